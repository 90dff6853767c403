"""The data request pack: templates the schools and the implementer fill in, read with no mapping.

``python -m analysis data-request`` writes, per source, an XLSX template whose first sheet has
the Italian headers the intake (:mod:`analysis.data.intake`) reads without any alias, with data
validation (drop-down lists for *Sesso*, *Esito* and *Stato*, whole numbers for *Classe*,
number ranges for hours and grades, dates for the dates), an instructions sheet and a data
dictionary in Italian and English generated from the field definitions below — the same ones
the intake maps onto the panel contract (:mod:`analysis.data.programme`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

__all__ = ["TEMPLATES", "Field", "write_data_request"]

ESITI = ("ammesso", "non ammesso", "sospensione del giudizio", "ritirato", "trasferito")
STATI = ("frequentante", "trasferito", "ritirato", "abbandono")


@dataclass(frozen=True)
class Field:
    """One column of a template: header, meaning in both languages, type and rule."""

    header: str
    it: str
    en: str
    kind: str  # text | date | list | whole | decimal
    rule: str = ""
    values: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    required: bool = True


_ID = (
    Field(
        "Codice fiscale",
        "Codice fiscale dell'alunno (16 caratteri)",
        "Pupil's tax code (16 characters)",
        "text",
        "16 caratteri / 16 characters",
    ),
    Field("Cognome", "Cognome", "Surname", "text", required=False),
    Field("Nome", "Nome", "First name", "text", required=False),
    Field("Data di nascita", "Data di nascita (GG/MM/AAAA)", "Date of birth (DD/MM/YYYY)", "date"),
)
TEMPLATES: dict[str, tuple[str, str, tuple[Field, ...]]] = {
    "registri_scolastici": (
        "Alunni",
        "Una riga per alunno e anno scolastico: esiti degli scrutini finali e assenze.",
        _ID
        + (
            Field("Sesso", "Sesso", "Sex", "list", values=("M", "F")),
            Field("Cittadinanza", "Cittadinanza", "Citizenship", "text", required=False),
            Field(
                "Classe",
                "Anno di corso (1–5)",
                "Year of the school order (1–5)",
                "whole",
                low=1,
                high=5,
            ),
            Field("Sezione", "Sezione", "Section", "text", required=False),
            Field("Indirizzo", "Indirizzo di studio", "Course of study", "text", required=False),
            Field(
                "Ore di assenza",
                "Ore di assenza nell'anno",
                "Hours absent in the year",
                "decimal",
                low=0,
                high=2000,
            ),
            Field(
                "Monte ore annuo",
                "Monte ore annuo personalizzato",
                "Annual hours",
                "decimal",
                low=1,
                high=2000,
            ),
            Field(
                "Media voti",
                "Media dei voti finali (1–10)",
                "Average final grade (1–10)",
                "decimal",
                low=1,
                high=10,
            ),
            Field(
                "Esito",
                "Esito dello scrutinio finale",
                "Outcome of the final assessment",
                "list",
                values=ESITI,
            ),
        ),
    ),
    "presenze_corsi": (
        "Presenze",
        "Una riga per partecipante e edizione del corso.",
        _ID
        + (
            Field("Corso", "Nome del corso", "Course", "text"),
            Field("Edizione", "Edizione (es. 2023/24)", "Edition (e.g. 2023/24)", "text"),
            Field(
                "Data inizio", "Data di inizio dell'edizione", "Start date of the edition", "date"
            ),
            Field("Data fine", "Data di fine dell'edizione", "End date of the edition", "date"),
            Field(
                "Ore frequentate",
                "Ore frequentate dal partecipante",
                "Hours attended",
                "decimal",
                low=0,
                high=500,
            ),
        ),
    ),
    "anagrafe_studenti": (
        "Stato",
        "Facoltativo: stato dell'alunno nell'Anagrafe Nazionale Studenti per anno scolastico.",
        (
            _ID[0],
            Field(
                "Anno scolastico",
                "Anno scolastico (primo anno solare, es. 2023)",
                "School year (first calendar year)",
                "whole",
                low=2000,
                high=2100,
            ),
            Field("Stato", "Stato nell'anagrafe", "Status in the registry", "list", values=STATI),
        ),
    ),
}

_INSTRUCTIONS = (
    ("Istruzioni", "Instructions"),
    (
        "Compilare il foglio '{sheet}' a partire dalla riga 2, una riga per {unit}.",
        "Fill in sheet '{sheet}' from row 2, one row per {unit_en}.",
    ),
    (
        "Non modificare né riordinare le intestazioni della riga 1.",
        "Do not change or reorder the headers in row 1.",
    ),
    (
        "Date nel formato GG/MM/AAAA; decimali con la virgola o il punto.",
        "Dates as DD/MM/YYYY; decimals with a comma or a point.",
    ),
    (
        "Non aggiungere righe di totale né note sotto la tabella.",
        "Do not add totals rows or notes below the table.",
    ),
    (
        "Il file contiene dati personali: trasmetterlo solo attraverso il canale concordato con il valutatore.",
        "The file holds personal data: send it only through the channel agreed with the evaluator.",
    ),
    (
        "Il valutatore sostituisce codice fiscale, nome e data di nascita con un codice pseudonimo all'ingresso; "
        "nessun dato identificativo compare nelle analisi o nei rapporti.",
        "The evaluator replaces tax code, name and date of birth with a pseudonymous code on intake; "
        "no identifying data appears in the analyses or reports.",
    ),
)
_UNITS = {
    "registri_scolastici": ("alunno e anno scolastico", "pupil and school year"),
    "presenze_corsi": ("partecipante e edizione", "participant and edition"),
    "anagrafe_studenti": ("alunno e anno scolastico", "pupil and school year"),
}


def _validation(f: Field, col: str, rows: int) -> DataValidation | None:
    ref = f"{col}2:{col}{rows}"
    if f.kind == "list":
        dv = DataValidation(
            type="list", formula1='"' + ",".join(f.values) + '"', allow_blank=not f.required
        )
    elif f.kind == "whole":
        dv = DataValidation(
            type="whole", operator="between", formula1=str(int(f.low)), formula2=str(int(f.high))
        )
    elif f.kind == "decimal":
        dv = DataValidation(
            type="decimal", operator="between", formula1=str(f.low), formula2=str(f.high)
        )
    elif f.kind == "date":
        dv = DataValidation(type="date", operator="greaterThan", formula1="1")
    else:
        return None
    dv.error = f"{f.header}: {f.it} / {f.en}"
    dv.errorTitle = "Valore non valido / Invalid value"
    dv.showErrorMessage = True
    dv.add(ref)
    return dv


def write_data_request(folder: Path, *, rows: int = 2000) -> list[Path]:
    """Write one XLSX template per source into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, (sheet, purpose, fields) in TEMPLATES.items():
        wb = Workbook()
        ws = wb.active
        ws.title = sheet
        ws.append([f.header for f in fields])
        for j, f in enumerate(fields, start=1):
            col = get_column_letter(j)
            ws.column_dimensions[col].width = max(14, len(f.header) + 4)
            ws.cell(row=1, column=j).font = Font(bold=True)
            ws.cell(row=1, column=j).fill = PatternFill("solid", fgColor="DDEBF7")
            if (dv := _validation(f, col, rows)) is not None:
                ws.add_data_validation(dv)
            if f.kind == "date":
                for r in range(2, rows + 1):
                    ws.cell(row=r, column=j).number_format = "DD/MM/YYYY"
        ws.freeze_panes = "A2"
        ins = wb.create_sheet("Istruzioni")
        unit_it, unit_en = _UNITS[name]
        ins.append(["Italiano", "English"])
        ins.append([purpose, ""])
        for it, en in _INSTRUCTIONS:
            ins.append(
                [it.format(sheet=sheet, unit=unit_it), en.format(sheet=sheet, unit_en=unit_en)]
            )
        ins.column_dimensions["A"].width = ins.column_dimensions["B"].width = 90
        dic = wb.create_sheet("Dizionario dati")
        dic.append(
            [
                "Colonna / Column",
                "Significato",
                "Meaning",
                "Tipo / Type",
                "Valori ammessi / Allowed values",
                "Obbligatorio / Required",
            ]
        )
        for f in fields:
            allowed = (
                ", ".join(f.values)
                if f.values
                else (f"{f.low:g}–{f.high:g}" if f.low is not None else f.rule)
            )
            dic.append([f.header, f.it, f.en, f.kind, allowed, "sì / yes" if f.required else "no"])
        for c in "ABCDEF":
            dic.column_dimensions[c].width = 30
        path = folder / f"richiesta_dati_{name}.xlsx"
        wb.save(path)
        out.append(path)
    return out
