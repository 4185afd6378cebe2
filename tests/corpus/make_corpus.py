"""Regenerate the malformed-input corpus and its manifest ``expected.json``.

Run ``python tests/corpus/make_corpus.py``. Each entry of ``expected.json`` names the field path
(``loc``, "" for the whole document) and a piece of the message the InputError must carry;
``valid: true`` files must evaluate.
"""

import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import MINIMAL_PATIENT

out = Path(__file__).resolve().parent
M = json.dumps(MINIMAL_PATIENT, indent=1)


def w(name, data):
    (out / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def doc(mut, base=MINIMAL_PATIENT):
    d = copy.deepcopy(base)
    mut(d)
    return json.dumps(d, indent=1)


expected = {}


def case(name, data, loc=None, msg=None, **kw):
    w(name, data)
    e = {"loc": loc, "msg": msg}
    e.update(kw)
    expected[name] = e


case("empty.json", b"", "", "empty document")
case("whitespace_only.json", b" \n\t\r\n ", "", "empty document")
case("truncated.json", M[: len(M) // 2], "", "invalid JSON at line")
case("truncated_string.json", '{"schema_version": 1, "patient_id": "abc', "", "invalid JSON at line")
case("top_level_array.json", "[" + M + "]", "", "top level must be an object")
case("top_level_string.json", '"patient"', "", "top level must be an object")
case(
    "wrong_type_weight.json",
    doc(lambda d: d["demographics"].__setitem__("weight_kg", "64")),
    "demographics.weight_kg",
    "valid number",
)
case(
    "wrong_type_therapies.json",
    doc(lambda d: d.__setitem__("therapies", {"agent": "prednisone"})),
    "therapies",
    "valid list",
)
case(
    "wrong_type_bool_for_number.json",
    doc(lambda d: d.__setitem__("schema_version", True)),
    "schema_version",
    "not a boolean",
)
case(
    "wrong_type_number_for_flag.json",
    doc(lambda d: d["risk_factors"].__setitem__("iga_deficiency", 0)),
    "risk_factors.iga_deficiency",
    "valid boolean",
)
case("wrong_type_object_for_date.json", doc(lambda d: d.__setitem__("as_of", {"y": 2024})), "as_of", "ISO date")
case(
    "null_required.json",
    doc(lambda d: d["demographics"].__setitem__("birth_date", None)),
    "demographics.birth_date",
    "ISO date",
)
case(
    "missing_required.json",
    doc(lambda d: d["diagnosis"].pop("condition")),
    "diagnosis.condition",
    "Field required",
)
case("unknown_field.json", doc(lambda d: d.__setitem__("mrn", "123")), "mrn", "unknown field")
case(
    "bad_vocabulary.json",
    doc(lambda d: d["therapies"][0].__setitem__("agent", "Prednisone")),
    "therapies[0].agent",
    "Input should be",
)
case("nan.json", M.replace('"weight_kg": 64', '"weight_kg": NaN'), "", "NaN is not a JSON number")
case(
    "infinity.json", M.replace('"ck_u_per_l": 3400', '"ck_u_per_l": Infinity'), "", "Infinity is not a JSON number"
)
case(
    "negative_infinity.json",
    M.replace('"weight_kg": 64', '"weight_kg": -Infinity'),
    "",
    "-Infinity is not a JSON number",
)
case(
    "huge_float.json",
    M.replace('"weight_kg": 64', '"weight_kg": 1e400'),
    "demographics.weight_kg",
    "finite number",
)
case(
    "huge_int_4000_digits.json",
    M.replace('"ck_u_per_l": 3400', '"ck_u_per_l": 1' + "0" * 3999),
    "assessments[0].ck_u_per_l",
    "valid number",
)
case(
    "huge_int_5000_digits.json",
    M.replace('"ck_u_per_l": 3400', '"ck_u_per_l": 1' + "0" * 5000),
    "",
    "number is too long",
)
case(
    "out_of_range_numbers.json",
    doc(
        lambda d: (
            d["demographics"].__setitem__("weight_kg", 1e9),
            d["assessments"][0].__setitem__("ck_u_per_l", -1),
        )
    ),
    "demographics.weight_kg",
    "less than or equal to 350",
)
case("huge_string.json", M.replace("demo-001", "x" * 300_000), "patient_id", "at most 128 characters")
case(
    "deep_nesting.json",
    M.replace('"ivig_courses": []', '"ivig_courses": [' + "[" * 100 + "]" * 100 + "]"),
    "",
    "nesting deeper than 64",
)
case("very_deep_nesting.json", "[" * 50_000 + "]" * 50_000, "", "nesting deeper than 64")
case("very_deep_nesting.yaml", "a: " + "[" * 50_000 + "]" * 50_000 + "\n", "", "nesting deeper than 64")
case(
    "duplicate_keys.json",
    M.replace('"patient_id": "demo-001"', '"patient_id": "demo-001", "patient_id": "demo-002"'),
    "",
    "duplicate key 'patient_id'",
)
case(
    "duplicate_keys_nested.json",
    M.replace('"sex": "female"', '"sex": "female", "sex": "male"'),
    "",
    "duplicate key 'sex'",
)
case("bom_utf8_valid.json", b"\xef\xbb\xbf" + M.encode(), valid=True)
case("bom_twice.json", b"\xef\xbb\xbf\xef\xbb\xbf" + M.encode(), "", "invalid JSON")
case("utf16_with_bom.json", M.encode("utf-16"), "", "not valid UTF-8")
case("latin1.json", M.replace("demo-001", "d\xe9mo-001").encode("latin-1"), "", "not valid UTF-8")
case("nul_in_string.json", M.replace("demo-001", "demo\x00001"), "", "Invalid control character")
case("lone_surrogate.json", M.replace("demo-001", "\\ud800"), "patient_id", "unicode")
case(
    "date_feb_30.json",
    M.replace('"1978-04-12"', '"2024-02-30"'),
    "demographics.birth_date",
    "not a valid calendar date",
)
case(
    "date_feb_29_non_leap.json",
    M.replace('"as_of": "2024-06-01"', '"as_of": "2023-02-29"'),
    "as_of",
    "not a valid calendar date",
)
case(
    "date_month_13.json",
    doc(lambda d: d["diagnosis"].__setitem__("diagnosed_on", "2019-13-01")),
    "diagnosis.diagnosed_on",
    "not a valid calendar date",
)
case(
    "date_year_0000.json",
    M.replace('"1978-04-12"', '"0000-04-12"'),
    "demographics.birth_date",
    "not a valid calendar date",
)
case(
    "date_with_time.json",
    M.replace('"1978-04-12"', '"1978-04-12T08:00:00"'),
    "demographics.birth_date",
    "ISO date",
)
case("date_not_padded.json", M.replace('"as_of": "2024-06-01"', '"as_of": "2024-6-1"'), "as_of", "ISO date")
case("date_as_number.json", M.replace('"as_of": "2024-06-01"', '"as_of": 20240601'), "as_of", "ISO date")
# year 0001 / 9999: valid ISO dates; the derivations step past them (date arithmetic overflows)
y1 = copy.deepcopy(MINIMAL_PATIENT)
y1.update(
    as_of="0001-06-01",
    therapies=[],
    glucocorticoid_doses=[],
    assessments=[],
    ivig_courses=[{"start": "0001-01-05", "days": 2, "dose_g_per_kg_per_day": 1.0}],
)
y1["demographics"]["birth_date"] = "0001-01-01"
y1["diagnosis"]["diagnosed_on"] = "0001-01-02"
case(
    "date_year_0001.json",
    json.dumps(y1, indent=1),
    "demographics.birth_date",
    "date out of range (1800-01-01 to 2200-12-31)",
)
y9 = copy.deepcopy(MINIMAL_PATIENT)
y9.update(
    as_of="9999-12-31",
    ivig_discontinued_on="9999-12-10",
    ivig_courses=[{"start": f"9999-{m:02d}-01", "days": 2, "dose_g_per_kg_per_day": 1.0} for m in (10, 11, 12)],
)
case(
    "date_year_9999.json",
    json.dumps(y9, indent=1),
    "ivig_courses[0].start",
    "date out of range (1800-01-01 to 2200-12-31)",
)
case(
    "stop_before_start.json",
    doc(lambda d: d["therapies"][1].__setitem__("stop", "2019-03-01")),
    "therapies[1].stop",
    "stop is before start",
)
case(
    "dose_change_outside_therapy.json",
    doc(lambda d: d["therapies"][1].__setitem__("dose_changed_on", ["2021-01-01"])),
    "therapies[1].dose_changed_on[0]",
    "outside the therapy",
)
case(
    "date_before_birth.json",
    doc(lambda d: d["diagnosis"].__setitem__("diagnosed_on", "1970-01-01")),
    "diagnosis.diagnosed_on",
    "before demographics.birth_date",
)
case(
    "discontinued_before_first_course.json",
    doc(
        lambda d: (
            d.__setitem__("ivig_courses", [{"start": "2024-01-10", "days": 2, "dose_g_per_kg_per_day": 1.0}]),
            d.__setitem__("ivig_discontinued_on", "2023-12-01"),
        )
    ),
    "ivig_discontinued_on",
    "before the first course",
)
case(
    "mmt8_above_scale.json",
    doc(lambda d: d["assessments"][0].__setitem__("mmt8", 81)),
    "assessments[0].mmt8",
    "above mmt8_max",
)
case(
    "schema_version_2.json",
    doc(lambda d: d.__setitem__("schema_version", 2)),
    "schema_version",
    "Input should be 1",
)
case(
    "yaml_alias_bomb.yaml",
    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
    "",
    "aliases are not allowed",
)
case(
    "yaml_python_tag.yaml", "schema_version: !!python/object/apply:os.system ['echo pwned']\n", "", "invalid YAML"
)
case("yaml_binary_tag.yaml", "patient_id: !!binary aGVsbG8=\n", "", "invalid YAML")
case(
    "yaml_duplicate_keys.yaml",
    "schema_version: 1\npatient_id: a\npatient_id: b\n",
    "",
    "duplicate key 'patient_id'",
)
case("yaml_tab_indent.yaml", "schema_version: 1\ndemographics:\n\tsex: female\n", "", "invalid YAML")
case(
    "yaml_unquoted_date_out_of_range.yaml",
    "schema_version: 1\npatient_id: y\nas_of: 2024-02-30\n",
    "",
    "out of range",
)
case("yaml_control_character.yaml", "schema_version: 1\npatient_id: \x07\n", "", "invalid YAML")
case("yaml_huge_int.yaml", "schema_version: 1\nweight: 1" + "0" * 5000 + "\n", "", "out of range")
(out / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
print(f"{len(expected)} corpus files written to {out}")
