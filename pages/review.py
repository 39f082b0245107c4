import pandas as pd
import streamlit as st

from core.evaluate import evaluate_probs
from pages.ui.charts import confusion_figure
from pages.ui.common import image_grid, need_model, workspace

ws = workspace()
st.title("Review")
if not need_model(ws):
    st.stop()
r = ws.train_result
if r is None or len(r.val_paths) == 0:
    st.info("This model has no validation images to review (it was loaded from a file, or the data had no val split).")
    st.stop()

ev = evaluate_probs(r.val_paths, r.val_true, r.val_probs, r.classes)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Validation accuracy", f"{ev.accuracy:.1%}")
c2.metric("Macro precision", f"{ev.macro['precision']:.3f}")
c3.metric("Macro recall", f"{ev.macro['recall']:.3f}")
c4.metric("Macro F1", f"{ev.macro['f1']:.3f}")

left, right = st.columns([1, 1])
with left:
    st.subheader("Confusion matrix")
    event = st.plotly_chart(confusion_figure(ev.classes, ev.confusion), key="confusion",
                            on_select="rerun", selection_mode="points", width="stretch")
with right:
    st.subheader("Per class")
    st.dataframe(pd.DataFrame(ev.per_class).round(3), hide_index=True, width="stretch")

cell = None
points = (event or {}).get("selection", {}).get("points", []) if event else []
if points and points[0].get("customdata"):
    cell = tuple(points[0]["customdata"])
if cell:
    t, p = cell
    rows = [x for x in ev.rows if x["true"] == t and x["pred"] == p]
    st.subheader(f"True {t}, predicted {p}: {len(rows)} images")
    image_grid([x["path"] for x in rows][:48], [f"{x['pred']} {x['confidence']:.0%}" for x in rows][:48])

wrong = [x for x in ev.rows if not x["correct"]]
st.subheader(f"Misclassified ({len(wrong)}), most confidently wrong first")
if wrong:
    image_grid([x["path"] for x in wrong][:48],
               [f"true {x['true']} → {x['pred']} ({x['confidence']:.0%})" for x in wrong][:48])
else:
    st.success("No validation image was misclassified.")
