"""Model card: intended use, data, training protocol and curves, numbers with CIs, how the
thresholds and temperature were chosen and what they mean for patients, known limits and
saliency caveats. Numbers come from the files."""
import streamlit as st

from pneumo_core.app.access import page_guard
from pneumo_core.app.review import figures, model_card, widgets
from pneumo_core.app.runtime import formatting, resources
from pneumo_core.app.settings import operating_controls, sidebar

page_guard.entry()

s = sidebar.settings()
meta, evaluation = resources.model_meta(s.model), resources.eval_report(s.model)

st.title(f"Model card: {s.model}")
st.caption(meta.description)

st.header("Intended use")
st.markdown(
    "- A **research and teaching demo**: it shows what a convolutional network trained on a public paediatric "
    "dataset does with a chest radiograph, and how far to trust it.\n"
    "- **Not a medical device and not a diagnosis.** Do not use it to decide care. It has not been validated "
    "prospectively, on adults, or outside the centre its data came from.\n"
    "- Input: one frontal chest radiograph. Output: a calibrated probability of pneumonia, a call at a chosen "
    "threshold, warnings, and a relative saliency map.")

st.header("Data")
st.markdown(
    "Kermany et al., *Cell* 2018 (\"Labeled Optical Coherence Tomography (OCT) and Chest X-Ray Images for "
    "Classification\", Mendeley Data), licence **CC BY 4.0**. Anterior-posterior chest radiographs of "
    "**paediatric patients aged 1 to 5 years** from **one centre**, Guangzhou Women and Children's Medical Center. "
    "Labels NORMAL / PNEUMONIA (bacterial and viral pooled), graded by expert physicians.")
if evaluation is not None:
    st.markdown(model_card.prevalence_note(evaluation, meta))

st.header("Training protocol")
st.markdown(
    "- Validation was **carved out of the training split, grouped by patient** (no patient on both sides); the "
    "official 16-image validation folder is too small to choose anything on.\n"
    "- **Nothing was chosen on the test split**: checkpoint, temperature, thresholds and the use of horizontal "
    "flips were all decided on validation. Some later selection rounds ran with earlier test results known; "
    "each was judged by a rule fixed beforehand on validation (see `docs/` and the README).")
st.table(model_card.training_rows(meta, resources.selection_record(s.model)), hide_index=True)
with st.expander("Calibration choice: the rule and the held-out figures"):
    st.markdown(formatting.escape_markdown(model_card.calibration_choice_details(meta)))
hist = resources.history(s.model)
if hist:
    st.subheader("Training curves")
    st.plotly_chart(figures.learning_figure(hist, meta.best_epoch), width="stretch")
    st.caption("Train figures (dotted) come from augmented batches; validation (solid) is the patient-grouped split "
               "carved from the training data. Dashed line: the checkpoint kept.")

st.header("How the operating points and probabilities were set")
st.markdown("\n".join(f"- {formatting.escape_markdown(n)}" for n in model_card.threshold_notes(meta)))
st.markdown(f"- Probabilities: temperature scaling, P = sigmoid(logit / T) with T = "
            f"{meta.temperature:.3f} fitted on validation (minimum log-loss).")
st.markdown("What each operating point means for patients:\n"
            + "\n".join(f"- {m}" for m in operating_controls.preset_meanings(s.model)))
if s.site is not None:
    st.subheader(f"Calibration in use: {s.calibration_label}")
    st.caption(model_card.site_profile_caption(s.site))
    st.dataframe(model_card.site_profile_rows(s.site), hide_index=True, width="stretch")

st.header("Calibrating for a site")
st.markdown("The operating point above was set on validation data from the training hospital; at a new site the "
            "ranking usually holds better than the probability scale. A site profile (the *Calibrate for your "
            "site* page, or `python -m pneumo_core site calibrate`) refits it on a labelled local sample:\n"
            + "\n".join(f"- {formatting.escape_markdown(n)}" for n in model_card.site_calibration_notes()))
study = resources.site_study(s.model)
if study is not None:
    st.caption(f"How good that is from n labelled films, measured on the official test split "
               f"({study['repeats']} draws per size; every film scored by a fit that did not see its patient): "
               "mean and 95% range over the draws, at the balanced threshold.")
    st.dataframe(model_card.site_study_rows(study), hide_index=True, width="stretch")

st.header("Adapting to a site without labels")
adapted = resources.adapt_study(s.model)
if adapted is None:
    st.caption(f"No adaptation study for {s.model}.")
else:
    st.markdown("An adapted profile (the *Adapt to your site* page, or `python -m pneumo_core site adapt`) fits the "
                "site's own unlabelled films' scores as two groups (each class's validation score distribution, "
                "moved by an offset of its own, with the prevalence, by EM) and moves the model's threshold as far "
                "as the fitted classes' balanced point (Youden's J) moved, giving up at most 0.01 of fitted "
                "sensitivity; it keeps the model's threshold when the scores do not form two groups. The network "
                "is not changed. Measured on the official test split by a protocol committed before it ran "
                f"({adapted['draws']} draws of 100 unlabelled films per prevalence, every film of the other "
                "patients called): mean and 5th percentile over the draws. It falls far short of the target "
                "(specificity 0.88): labelled films do better (docs/site-adaptation.md).")
    st.dataframe(model_card.adapt_study_rows(adapted), hide_index=True, width="stretch")

st.header("Numbers")
if evaluation is not None:
    widgets.stale_eval_warning(evaluation, meta, s.model)
    st.subheader("Test split, with 95% bootstrap CIs, calibrated on validation data")
    st.table(model_card.card_metric_rows(evaluation, meta.default_threshold), hide_index=True)
    st.caption(model_card.calibration_caption(evaluation, meta))
st.subheader("Validation (where every choice was made)")
st.dataframe(model_card.validation_rows(meta), hide_index=True, width="stretch")
st.caption("Validation images come from the same distribution as training, so these numbers are optimistic; "
           "the test split is the fairer estimate.")

st.header("Known limits")
st.markdown(
    "- **Population shift**: children aged 1-5 from one hospital. Adult chests, other scanners, PA or lateral "
    "views, ICU films with lines and tubes are outside what it has seen; expect worse and less calibrated output.\n"
    "- **Label noise**: labels come from image grading, not from clinical or microbiological confirmation; some "
    "test labels are disputed in the literature.\n"
    "- **Squashed aspect ratio**: every image is resized to a square without cropping (the public test copies "
    "were squashed that way), so anatomy proportions are distorted.\n"
    "- **Prevalence**: the test split has a different pneumonia prevalence from training; PPV and NPV on this page "
    "do not carry over to your population.\n"
    "- **One binary question**: it does not distinguish bacterial from viral pneumonia, and it knows nothing "
    "about other findings, priors or the clinical picture.\n"
    "- The out-of-distribution flag catches inputs unlike the training images, not all of them.")

st.header("Saliency caveats")
st.markdown(model_card.saliency_caveats())
