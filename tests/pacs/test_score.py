"""pacs.score: a study's instances scored through ingest and the predictor, one prediction
per image instance, in study order, whatever fails on the way."""
from pneumo_core.pacs.client import InstanceRef, PacsClient
from pneumo_core.pacs.score import score_study
from pneumo_core.pacs.study import plan_study


def test_every_image_instance_gets_one_prediction_named_for_dicomweb(client, loaded, default_predictor):
    plan = plan_study(client.instances(loaded.a.uid))
    out = {s.ref.sop_uid: s.prediction for s in score_study(default_predictor, client, plan, batch_size=2)}
    assert set(out) == {loaded.sop[k] for k in ("mono2", "mono1", "jpeg", "hand")}
    for kind in ("mono2", "mono1", "jpeg"):
        assert out[loaded.sop[kind]].probability is not None and out[loaded.sop[kind]].error is None
        assert out[loaded.sop[kind]].file.startswith(f"dicomweb:{loaded.a.uid}/")
    hand = out[loaded.sop["hand"]]
    assert hand.probability is None and hand.error is None
    assert hand.warnings[0].startswith("not assessed: DICOM header: body part is HAND")


def test_an_unreadable_instance_is_an_error_and_the_others_are_still_scored(client, loaded, default_predictor):
    plan = plan_study(client.instances(loaded.b.uid))
    out = {s.ref.sop_uid: s.prediction for s in score_study(default_predictor, client, plan)}
    assert out[loaded.sop["b_broken"]].error and out[loaded.sop["b_broken"]].probability is None
    assert out[loaded.sop["b_good"]].probability is not None


def test_an_instance_the_server_cannot_send_is_an_error_line(client, loaded, default_predictor):
    plan = plan_study(client.instances(loaded.a.uid))
    ghost = InstanceRef(loaded.a.uid, plan.frontal[0].series_uid, "1.2.3.999", plan.frontal[0].sop_class, "CR")
    plan.frontal.append(ghost)
    out = {s.ref.sop_uid: s.prediction for s in score_study(default_predictor, client, plan)}
    assert out["1.2.3.999"].error.startswith("cannot retrieve instance") and len(out) == 5


def test_a_server_that_is_down_fails_each_frontal_instance_and_the_rest_still_get_a_line(orthanc, stopped_url, loaded,
                                                                         default_predictor, client):
    plan = plan_study(client.instances(loaded.a.uid))
    with PacsClient(stopped_url, client.session.auth, backoff=0.01, allow_http=True) as down:
        out = list(score_study(default_predictor, down, plan))
    assert len(out) == 4 and all(s.prediction.error or s.prediction.warnings for s in out)
    assert sum(s.prediction.error is not None for s in out) == 3
