from pathlib import Path

import pandas as pd
import pytest
import yaml

from workbench import runbooks
from workbench.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[1] / "runbooks"


def test_every_shipped_runbook_validates_and_names_its_notebook():
    loaded = runbooks.load_all(SHIPPED)
    assert {"cost_spike", "timeout_surge", "hallucination_spike"} <= set(loaded)
    for rb in loaded.values():
        assert rb.notebook.endswith(".ipynb")
        assert rb.min_units > 0
        assert rb.signals
        assert rb.prometheus, f"{rb.name} has no PromQL"


def test_domain_thresholds_live_in_the_files():
    cost = runbooks.load("cost_spike", SHIPPED)
    assert cost.daily["max_ratio_to_baseline"] == 1.5
    assert cost.signal("page_burst")["thresholds"]["page"] == 10.0
    assert cost.signal("cost_per_hour")["direction"] == "up"
    timeout = runbooks.load("timeout_surge", SHIPPED)
    assert timeout.spec["budget"] == {"seconds": 8.0, "warning_fraction": 0.75}
    assert runbooks.load("hallucination_spike", SHIPPED).spec["score_threshold"] == 0.5
    assert timeout.baseline_window == pd.Timedelta(days=7)
    assert timeout.bucket == pd.Timedelta(hours=1)


def _write(tmp_path, name, mutate):
    spec = yaml.safe_load((SHIPPED / "cost_spike.yaml").read_text())
    mutate(spec)
    spec.setdefault("name", name)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_error_names_file_key_and_problem(tmp_path):
    def break_it(spec):
        spec["signals"]["cost_per_hour"]["direction"] = "sideways"
        del spec["evaluation"]["lookback"]
    path = _write(tmp_path, "cost_spike", break_it)
    with pytest.raises(ConfigError) as err:
        runbooks.load(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "signals.cost_per_hour.direction: 'sideways' is not one of ['up', 'down']" in msg
    assert "evaluation: 'lookback' is a required property" in msg


def test_unknown_key_and_bad_duration_rejected(tmp_path):
    path = _write(tmp_path, "cost_spike", lambda s: s.update(threshold=3))
    with pytest.raises(ConfigError, match="Additional properties are not allowed"):
        runbooks.load(path)
    path = _write(tmp_path, "cost_spike", lambda s: s["evaluation"].update(bucket="1 hour"))
    with pytest.raises(ConfigError, match="evaluation.bucket"):
        runbooks.load(path)


def test_name_must_match_file_and_missing_runbook_lists_known(tmp_path):
    path = _write(tmp_path, "other", lambda s: None)
    with pytest.raises(ConfigError, match="does not match the file name 'other'"):
        runbooks.load(path)
    with pytest.raises(ConfigError, match="runbooks there: .*cost_spike"):
        runbooks.load("nope", SHIPPED)


def test_invalid_yaml_and_unknown_signal(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        runbooks.load(bad)
    with pytest.raises(ConfigError, match="has no signal 'nope'"):
        runbooks.load("cost_spike", SHIPPED).signal("nope")


def test_parse_duration():
    assert runbooks.parse_duration("5m") == pd.Timedelta(minutes=5)
    assert runbooks.parse_duration("7d") == pd.Timedelta(days=7)
    with pytest.raises(ConfigError, match="'5 minutes'"):
        runbooks.parse_duration("5 minutes")


def test_clean_verdict_is_remembered_by_content_not_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    runbooks.load("cost_spike", SHIPPED)
    remembered = list((tmp_path / "cache" / "runbooks-valid").iterdir())
    assert len(remembered) == 1
    # Same name, changed content: validated again, and the error still surfaces.
    path = _write(tmp_path, "cost_spike",
                  lambda s: s["signals"]["cost_per_hour"].update(direction="sideways"))
    with pytest.raises(ConfigError, match="sideways"):
        runbooks.load(path)
    assert len(list(remembered[0].parent.iterdir())) == 1


def test_detector_keys_are_in_the_files():
    for rb in runbooks.load_all(SHIPPED).values():
        assert 0 < rb.spec["evaluation"]["alpha"] <= 1e-3
        assert rb.spec["evaluation"]["min_events"] >= 1
        assert rb.spec["baseline"]["segments"][0] == "agent"
        assert runbooks.parse_duration(rb.spec["evaluation"]["scan"]) >= rb.bucket
        assert 0 < rb.spec["attribution"]["min_share"] <= 1
        for name, sig in rb.signals.items():
            assert sig["compare"] in {"ratio", "absolute", "delta"}, f"{rb.name}.{name}"
    cost = runbooks.load("cost_spike", SHIPPED)
    assert cost.signal("runaway_loop")["bounds"] == {"max_generations": 25,
                                                     "max_total_tokens": 100000}
    assert cost.signal("page_burst")["requires"] == {"cost_per_request_ratio": 2.0}
    # attribution names a model within its agent, and a tool a trace failed or was slow on
    assert "agent/model" in cost.dimensions and "culprit_tool" in cost.dimensions
    assert "prompt_version" in runbooks.load("hallucination_spike", SHIPPED).dimensions


def test_a_finding_gets_the_mitigation_for_the_kind_of_cause_it_names(tmp_path):
    from workbench.findings import Suspect

    books = runbooks.load_all(SHIPPED)

    def suspect(dim, value, **within):
        return Suspect(dimension=dim, value=value, contribution=1.0, incident=0.3,
                       baseline=0.1, within=within)

    assert books["hallucination_spike"].suspect_mitigation(
        [suspect("prompt_version", "8", prompt_name="support-answer"),
         suspect("model", "gpt-4o")]) == \
        "Pin prompt support-answer back to the version before 8 in the prompt registry."
    assert books["timeout_surge"].suspect_mitigation(
        [suspect("tool_name", "inventory_api", agent="order-agent")]) == \
        ("Put a per-call timeout and a fallback on inventory_api in order-agent, or take it "
         "off the request path.")
    # the finding's agent where the suspect names none
    assert books["cost_spike"].suspect_mitigation([suspect("model", "o3")], "flowise") == \
        ("Cap flowise's tokens per request on o3 (input, output and reasoning effort), or "
         "route it back to the model it ran before if o3 is new.")
    # the fitted sentence stands instead of the general one that says the same
    assert books["hallucination_spike"].mitigations(
        [suspect("prompt_version", "8", prompt_name="support-answer")]) == [
        "Pin prompt support-answer back to the version before 8 in the prompt registry.",
        *[m for m in books["hallucination_spike"].spec["mitigations"]
          if m != "Pin the previous prompt version."]]
    assert "Pin the previous prompt version." in books["hallucination_spike"].mitigations([])
    assert books["cost_spike"].mitigations([suspect("model", "o3")], "flowise")[1:] == \
        books["cost_spike"].spec["mitigations"]  # a sentence that replaces none
    # no sentence for that kind of cause, or no suspect: nothing made up
    assert books["cost_spike"].suspect_mitigation([suspect("environment", "prod")]) is None
    assert books["cost_spike"].suspect_mitigation([]) is None
    # a sentence naming a field it is not filled with is refused at load, by key
    path = _write(tmp_path, "cost_spike", lambda s: s["suspect_mitigations"].update(
        model="Route {tenant} elsewhere."))
    with pytest.raises(ConfigError, match=r"suspect_mitigations.model: 'Route \{tenant\} "
                                          r"elsewhere.' is not a sentence to fill"):
        runbooks.load(path)
    path = _write(tmp_path, "cost_spike", lambda s: s["suspect_mitigations"].update(
        model={"say": "Route {agent} elsewhere.", "instead_of": "Buy more GPUs."}))
    with pytest.raises(ConfigError, match=r"suspect_mitigations.model.instead_of: 'Buy more "
                                          r"GPUs.' is not one of the runbook's mitigations"):
        runbooks.load(path)
    path = _write(tmp_path, "cost_spike", lambda s: s["suspect_mitigations"].update(
        tenant="Block {value}."))
    with pytest.raises(ConfigError, match="suspect_mitigations"):
        runbooks.load(path)
