"""Fast page tests with Streamlit's AppTest (no browser), plus the deploy files."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from tests.helpers.images import ROOT


def run_page(name: str, env: dict | None = None, monkeypatch=None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page(f"pages/{name}")
    at.run()
    assert not at.exception, at.exception
    return at


def test_home_offers_the_demo():
    at = run_page("home.py")
    assert at.title[0].value == "Gallery Sorter"
    assert any(b.label == "Try the demo dataset" for b in at.button)


def test_first_paint_does_not_import_torch_or_the_engine():
    import subprocess
    import sys

    code = (
        "import sys; sys.path.insert(0, '.'); from streamlit.testing.v1 import AppTest; "
        "at = AppTest.from_file('app.py'); at.run(); assert not at.exception; "
        "print(sorted(m for m in ('torch', 'numpy', 'core.session.workspace') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().endswith("[]"), (out.stdout, out.stderr)


def test_home_shows_the_current_data_when_coming_back():
    at = run_page("data.py")
    at.button(key="demo_btn").click().run()
    at.switch_page("pages/home.py").run()
    assert not at.exception
    assert any("Current data: demo dataset" in s.value for s in at.success)


def test_pages_without_data_say_what_to_do():
    for name, text in [("train.py", "No data yet"), ("review.py", "No trained model"), ("sort.py", "No model yet")]:
        at = run_page(name)
        assert any(text in i.value for i in at.info), (name, [i.value for i in at.info])


def test_demo_data_page_shows_classes():
    at = run_page("data.py")
    at.button(key="demo_btn").click().run()
    assert not at.exception
    md = " ".join(m.value for m in at.markdown)
    assert "demo dataset" in md
    assert at.metric[0].value == "194"


def hosted(monkeypatch) -> None:
    monkeypatch.setenv("GS_HOSTED", "1")
    monkeypatch.setenv("GS_LEAN_MEMORY", "0")  # process-wide and slower: the tests after these keep their speed


def test_hosted_mode_turns_off_local_paths(monkeypatch):
    hosted(monkeypatch)
    at = run_page("data.py")
    assert any("switched off on this server" in i.value for i in at.info)
    assert not [t for t in at.text_input if t.key == "local_path"]


def test_hosted_pages_state_the_limits_they_apply(monkeypatch):
    hosted(monkeypatch)
    at = run_page("data.py")
    assert any("hosted demo" in c.value and "2,000 images" in c.value for c in at.caption)
    at.button(key="demo_btn").click().run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert any("hosted demo" in c.value and "at most 30 epochs" in c.value for c in at.caption)


def test_deploy_requirements_agree_with_requirements():
    def pins(path):
        out = {}
        for line in (ROOT / path).read_text().splitlines():
            line = line.split("#")[0].strip()
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
            if m:
                out[m.group(1).lower()] = m.group(2).split("+")[0]
        return out

    main, deploy = pins("requirements.txt"), pins("deploy/requirements.txt")
    shared = set(main) & set(deploy)
    assert {"torch", "torchvision", "streamlit"} <= shared
    assert set(main) == set(deploy), set(main) ^ set(deploy)
    assert {k: main[k] for k in shared} == {k: deploy[k] for k in shared}
    assert "+cpu" in (ROOT / "deploy/requirements.txt").read_text()


def test_train_page_says_how_training_runs_once():
    """The plan for the current settings is shown once; the finished run's own line only when settings changed."""
    import time

    at = run_page("data.py")
    at.button(key="demo_btn").click().run()
    at.switch_page("pages/train.py").run()
    at.radio(key="ladder-mode").set_value("custom").run()
    at.number_input(key="epochs-recommended").set_value(2).run()
    at.button[[b.label for b in at.button].index("Train")].click().run()
    deadline = time.time() + 240
    while not any(s.value == "Finished" for s in at.success) and time.time() < deadline:
        time.sleep(1)
        at.run()
    assert not at.exception, at.exception
    assert any(s.value == "Finished" for s in at.success)

    def mentions() -> list[str]:
        texts = [e.value for e in list(at.info) + list(at.caption)]
        return [t for t in texts if "Fast path" in t]

    assert len(mentions()) == 1, mentions()
    layers = at.selectbox(key="layers-recommended")
    assert layers.value == "head only"
    layers.set_value("last block + head").run()
    said = mentions()
    assert len(said) == 2 and any(t.startswith("This run:") and "cached pooled features" in t for t in said), said


def test_train_settings_survive_leaving_the_page_and_a_refresh():
    at = run_page("data.py")
    at.button(key="demo_btn").click().run()
    ws_id = at.session_state["ws_id"]
    at.switch_page("pages/train.py").run()
    at.radio(key="ladder-mode").set_value("custom").run()
    at.selectbox(key="aug-recommended").set_value("light").run()
    at.number_input(key="epochs-recommended").set_value(3).run()
    at.switch_page("pages/data.py").run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="aug-recommended").value == "light"
    assert at.number_input(key="epochs-recommended").value == 3
    assert any("augmented views per image" in i.value for i in at.info)
    # a refresh is a new session on the same workspace (its id is in the URL)
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    again.session_state["ws_id"] = ws_id
    again.switch_page("pages/train.py").run()
    assert not again.exception, again.exception
    assert again.selectbox(key="aug-recommended").value == "light"
    assert again.number_input(key="epochs-recommended").value == 3


def test_confusion_matrix_numbers_are_drawn_by_the_heatmap_not_the_clickable_layer():
    """Plotly contrasts heatmap text with each cell; text on the clickable layer faded when a cell was selected."""
    from pages.ui.charts import confusion_figure

    fig = confusion_figure(["ants", "bees"], [[10, 1], [0, 9]])
    heat, clicks = fig.data
    assert heat.type == "heatmap" and heat.texttemplate == "%{z}" and not heat.textfont.color
    assert "text" not in clicks.mode and len(clicks.x) == 4  # every cell still clickable


def test_train_page_shows_the_planners_forecast_for_the_budget_set():
    """What Automatic says it will take is the climb's own plan (Better fitted to what Quick leaves)."""
    import math
    import time

    from core.session.progress import forecast_words
    from core.session.workspace import REGISTRY
    from core.training.ladder import LadderRequest, forecasts

    at = run_page("data.py")
    at.button(key="demo_btn").click().run()
    at.switch_page("pages/train.py").run()
    deadline = time.time() + 120
    while not _captions(at)[0].startswith("about") and time.time() < deadline:
        time.sleep(1)
        at.run()
    assert not at.exception, at.exception
    ws = REGISTRY.get(at.session_state["ws_id"])
    everything = forecasts(ws.data.effective(), LadderRequest("auto", budget_s=1e9), ws.cache)
    roomy = min(120, math.ceil(sum(f.seconds for f in everything) / 60) + 1)  # this machine's rates, as measured
    for minutes in (1, roomy):
        at.number_input(key="ladder-budget").set_value(minutes).run()
        plan = forecasts(ws.data.effective(), LadderRequest("auto", budget_s=60 * minutes), ws.cache)
        said = forecast_words([f.seconds for f in plan])
        assert _captions(at)[0].startswith(f"about {said} ·"), (_captions(at)[0], plan)
    assert len(plan) == 2  # a budget that holds both rungs at this machine's rates shows Better too


def _captions(at: AppTest) -> list[str]:
    return [str(c) for c in at.radio(key="ladder-mode").proto.captions] if at.radio else []
