"""Territorial reference metadata (analysis.data.geography): NUTS names and territorial history.

The facts are checked against what they encode: ISTAT's macro-areas, the Sardinian reform of
2016, the provinces carved out in 2009-2010, INVALSI's missing 2020.
"""

from __future__ import annotations

import pytest

from analysis.data import geography as G


def test_nuts_names_and_levels():
    assert G.nuts_name("ITF4") == "Puglia" and G.nuts_level("ITF4") == "region"
    assert G.nuts_level("ITF") == "macro_area"
    with pytest.raises(KeyError):
        G.nuts_name("XX")
    assert G.is_mezzogiorno("Sardegna") and not G.is_mezzogiorno("Lazio")


def test_donor_pools_are_read_only_and_consistent():
    assert set(G.DONOR_POOLS) == {
        "south_provinces",
        "all_provinces",
        "south_regions",
        "all_regions",
    }
    for name, pool in G.DONOR_POOLS.items():
        assert pool.name == name and pool.level in G.LEVELS
        assert pool.area in ("mezzogiorno", "italy")
    with pytest.raises(TypeError):
        G.DONOR_POOLS["x"] = G.DONOR_POOLS["all_regions"]  # type: ignore[index]


@pytest.mark.parametrize(
    "region, level, expected",
    [
        ("Puglia", "province", {"Puglia", "Sud", "Mezzogiorno", "Italia", "EU27"}),
        ("Puglia", "region", {"Sud", "Mezzogiorno", "Italia", "EU27"}),
        ("Sardegna", "region", {"Isole", "Mezzogiorno", "Italia", "EU27"}),
        ("Lazio", "region", {"Centro", "Italia", "EU27"}),
        ("Liguria", "region", {"Nord", "Nord-ovest", "Italia", "EU27"}),
        ("Veneto", "region", {"Nord", "Nord-est", "Italia", "EU27"}),
        (
            "Provincia Autonoma di Trento",
            "province",
            {
                "Provincia Autonoma di Trento",
                "Trentino-Alto Adige/Südtirol",
                "Nord",
                "Nord-est",
                "Italia",
                "EU27",
            },
        ),
    ],
)
def test_containing(region, level, expected):
    assert G.containing(region, level) == expected


def test_in_area():
    assert G.in_area("mezzogiorno", "Calabria")
    assert not G.in_area("mezzogiorno", "Toscana")
    assert not G.in_area("mezzogiorno", "Trentino-Alto Adige/Südtirol")
    assert G.in_area("italy", "Toscana")


def test_boundary_changes_and_abolished_provinces():
    assert [bc.first_year for bc in G.boundary_changes("Bari", 2005)] == [2010]
    assert G.boundary_changes("Bari", 2010) == []
    assert [bc.first_year for bc in G.boundary_changes("Cagliari", 2010)] == [2017]
    assert G.boundary_changes("Lecce", 2000) == []
    assert set(G.ABOLISHED) == {"Carbonia-Iglesias", "Medio Campidano", "Ogliastra", "Olbia-Tempio"}
    assert all("2016 reform" in why for why in G.ABOLISHED.values())


def test_known_gaps_populations_and_region_fixes():
    assert "not held in 2020" in G.known_gap("invalsi_literacy_g8", 2020)
    assert G.known_gap("invalsi_literacy_g8", 2019) is None
    assert G.known_gap("neet", 2020) is None
    assert G.population("neet") == "residents aged 15-29"
    assert G.population("elet") == "residents aged 18-24"
    assert G.population("unknown_indicator") is None
    assert "Trento" in G.AGGREGATES["Trentino-Alto Adige/Südtirol"]
