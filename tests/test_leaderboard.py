"""The leaderboard's rows and rankings from results records."""

from lib.leaderboard import COLUMNS, defenses, masking_text, ranking


def record(slug, defended, n=500, version="published", l2=None):
    """A results record whose common evaluation holds defended = {name: (clean, L∞)}."""
    rows = {
        name: {"clean": clean, "Linf": linf, "L2": l2, "masking": {}}
        for name, (clean, linf) in defended.items()
    }
    aa = {
        "n": n,
        "seed": 0,
        "threat_models": {"Linf": 0.1, "L2": 1.5},
        "defenses": rows,
    }
    if version:
        aa["version"] = {"name": version}
    return {"slug": slug, "profile": "book", "metrics": {"autoattack": aa}}


def test_every_defense_of_every_evaluated_record_is_a_row():
    records = [
        record("a", {"AT": (99.0, 80.0), "Normal": (99.0, 1.0)}),
        record("b", {"LWA": (98.0, 85.0)}, version=None),
        {"slug": "c", "profile": "book", "metrics": {}},  # not evaluated: no row
    ]
    rows = defenses(records)
    assert list(rows.columns) == COLUMNS
    assert list(rows.defense) == ["AT", "Normal", "LWA"]
    # a record from before versions were named ran the 10-iteration version
    assert list(rows.attack) == ["published", "published", "torchattacks-10"]


def test_ties_share_a_rank_and_the_cleaner_comes_first_among_equals():
    rows = defenses(
        [record("a", {"x": (97.0, 80.0), "y": (99.0, 80.0), "z": (99.5, 10.0)})]
    )
    table = ranking(rows, "Linf", 0.1)
    assert list(table.defense) == ["y", "x", "z"]
    assert list(table["rank"]) == [1, 1, 3]
    assert ranking(rows, "Linf", 0.3).empty  # another radius: no row
    assert ranking(rows, "L2", 1.5).empty  # not evaluated in L2


def test_the_masking_column_names_the_flags_raised():
    assert masking_text({}) == "not checked"
    assert masking_text({"masking": {"a": {"flag": False}}}) == "none"
    flags = {"a": {"flag": True}, "b": {"flag": False}, "c": {"flag": True}}
    assert masking_text({"masking": flags}) == "a, c"
