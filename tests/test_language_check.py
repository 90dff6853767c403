"""The check that Italian pages carry no English sentences catches English and passes Italian."""

from analysis.pipeline.language import english_sentences, visible_text


def test_english_sentence_is_found_and_italian_passes():
    page = (
        "<p>Si stima che il tasso di assenza sia diminuito di 2,4 p.p. rispetto al 2020.</p>"
        "<p>The rate is lower than the region and it fell after the start.</p>"
    )
    assert english_sentences(page) == [
        "The rate is lower than the region and it fell after the start."
    ]


def test_names_loanwords_code_and_provenance_are_not_prose():
    page = (
        "<p>NEET 15–29, Lecce, Puglia; wild cluster bootstrap; event study; SIINC.</p>"
        "<code>the and of is with from</code>"
        '<div class="provenance"><h4>Provenienza</h4><div>the package of the run is with it</div></div>'
    )
    assert english_sentences(page) == []
    assert "the and of" not in visible_text(page)
