"""Plots' Vega-Lite specs, as the kernel sends them, validate against the Vega-Lite v5
JSON schema (the copy the altair package ships), for every kind of plot."""
import json
import pathlib

import altair
import jsonschema
import pytest

from conftest import run

VEGA_LITE = "application/vnd.vegalite.v5+json"
SCHEMA = pathlib.Path(altair.__file__).parent / "vegalite" / "v5" / "schema" / "vega-lite-schema.json"

TABLE = (
    'let t = table(["method": ["LoRA", "LoRA", "IA3", "IA3"], "connector": ["tuned", "frozen", "tuned", "frozen"], '
    '"score": [0.81, 0.78, 0.70, 0.69]], title: "Average")'
)
PLOTS = {
    "line": "plot([2.5, 2.1, 1.7, 1.6])",
    "line-series": 'plot(["train": [2.5, 2.1, 1.7], "eval": [2.6, 2.3, 2.0]], title: "Loss")',
    "line-table": 'plot(table(["step": [1, 2, 3], "loss": [2.5, 2.0, 1.8]]), x: "step", y: "loss")',
    "bar": 'plot(t, x: "method", y: "score", kind: .bar)',
    "grouped-bar": 'plot(t, x: "method", y: "score", color: "connector", kind: .bar, title: "Methods")',
    "scatter": (
        'plot(table(["share": [4.3, 0.3, 2.8], "score": [0.8, 0.7, 0.84], "method": ["LoRA", "IA3", "Adapter"]]), '
        'x: "share", y: "score", color: "method", kind: .scatter)'
    ),
    "heatmap": 'plot(t, x: "connector", y: "score", color: "method", kind: .heatmap)',
}


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def vega_lite_outputs(outputs):
    return [
        m["content"]["data"][VEGA_LITE]
        for m in outputs
        if m["msg_type"] in ("execute_result", "display_data") and VEGA_LITE in m["content"]["data"]
    ]


@pytest.mark.parametrize("name", PLOTS)
def test_plot_spec_validates_against_the_vega_lite_schema(kernel, validator, name):
    _, kc = kernel
    reply, outputs = run(kc, TABLE + "\ndisplay(" + PLOTS[name] + ")\n" + PLOTS[name])
    assert reply["content"]["status"] == "ok", reply["content"]
    specs = vega_lite_outputs(outputs)
    assert len(specs) == 2  # the display and the result
    for spec in specs:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(spec)]
        assert not errors, "\n".join(errors[:5])
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v5")


def test_the_schema_rejects_what_vega_lite_would_reject(validator):
    # Guards the test above against a schema that accepts anything.
    assert list(validator.iter_errors({"data": {"values": []}, "mark": "pie"}))
    assert list(validator.iter_errors({"data": {"values": []}, "mark": "bar", "encoding": {"x": {"field": "a", "type": "numeric"}}}))
