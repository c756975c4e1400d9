"""The built-in contact-centre rubric: valid, bilingual, stable and usable for scoring."""

from __future__ import annotations

import math

import pytest
import yaml

from rubrics import (
    Answer,
    Rubric,
    builtin_rubric_path,
    check_rubric_file,
    load_rubric,
    load_rubric_file,
    score,
)
from rubrics.schema import has_arabic_letter
from rubrics.vocabulary import AVOID_BEHAVIOURS, FINDINGS, METRICS, USE_BEHAVIOURS


@pytest.fixture(scope="module")
def rubric() -> Rubric:
    return load_rubric_file(builtin_rubric_path())


def test_it_loads_without_problems(rubric: Rubric) -> None:
    assert check_rubric_file(builtin_rubric_path("contact_center")) == []
    assert rubric.key == "contact_center"
    assert [s.id for s in rubric.sections] == [
        "professionalism",
        "empathy",
        "accuracy",
        "timeliness",
    ]
    assert math.isclose(sum(s.weight for s in rubric.sections), 100.0)


def test_hash_is_stable_across_loads_reformatting_and_storage(rubric: Rubric) -> None:
    text = builtin_rubric_path().read_text(encoding="utf-8")
    assert load_rubric(text).content_hash() == rubric.content_hash()
    # Re-serialised without comments, in another key order and layout: same content.
    reformatted = yaml.safe_dump(yaml.safe_load(text), allow_unicode=True, sort_keys=True, width=60)
    assert reformatted != text
    assert load_rubric(reformatted).content_hash() == rubric.content_hash()
    stored = Rubric.from_definition(rubric.to_definition())
    assert stored.content_hash() == rubric.content_hash()


def test_every_text_exists_in_english_and_arabic(rubric: Rubric) -> None:
    texts = [rubric.name, rubric.description]
    for section in rubric.sections:
        texts += [section.name, section.description]
    for _, criterion in rubric.all_criteria():
        texts += [criterion.label, criterion.description, criterion.guidance]
    for local in texts:
        assert local is not None
        assert local.en.strip() and local.ar.strip()
        assert has_arabic_letter(local.ar), local.ar
        assert not has_arabic_letter(local.en), local.en


def test_evidence_uses_only_the_shared_vocabulary(rubric: Rubric) -> None:
    defined = {name for channel in rubric.timing_thresholds.values() for name in channel}
    with_evidence = 0
    for _, criterion in rubric.all_criteria():
        evidence = criterion.evidence
        if evidence is None:
            continue
        with_evidence += 1
        assert set(evidence.use) <= USE_BEHAVIOURS
        assert set(evidence.avoid) <= AVOID_BEHAVIOURS
        assert set(evidence.findings) <= FINDINGS
        for check in evidence.metrics:
            assert check.metric in METRICS
            assert check.threshold in defined
    assert with_evidence >= 12


def test_expected_criteria_and_their_evidence(rubric: Rubric) -> None:
    def evidence(cid: str) -> tuple[set[str], set[str], set[str], set[str]]:
        e = rubric.criterion(cid).evidence
        assert e is not None, cid
        return set(e.use), set(e.avoid), set(e.findings), {m.metric for m in e.metrics}

    assert evidence("greeting") == ({"greeting"}, set(), {"missing_greeting"}, set())
    assert evidence("self_introduction")[2] == {"missing_self_introduction"}
    assert evidence("closing")[0] == {"closing", "gratitude"}
    assert evidence("closing")[2] == {"missing_closing"}
    assert evidence("empathy_acknowledgement")[0] == {"empathy", "apology"}
    assert evidence("empathy_acknowledgement")[2] == {"missing_empathy_after_frustration"}
    assert evidence("no_rude_language")[1] == {"rude", "dismissive", "blame"}
    assert evidence("no_arguing")[1] == {"argue"}
    assert evidence("correct_information")[1] == {"uncertainty"}
    assert evidence("first_response")[3] == {"first_response_s"}
    assert evidence("hold_etiquette")[0] == {"hold_etiquette"}
    assert "hold_max_s" in evidence("hold_etiquette")[3]
    # a customer nobody answered, or left waiting at the end, is no prompt response
    assert evidence("response_speed")[2] == {"missing_agent_reply"}
    assert "unanswered_wait_s" in evidence("response_speed")[3]
    assert rubric.criterion("no_rude_language").critical == "review"
    assert rubric.criterion("verification").critical == "section"
    assert {c.type for _, c in rubric.all_criteria()} == {"yes_no", "scale"}


def test_thresholds_match_the_shared_brief(rubric: Rubric) -> None:
    assert rubric.timing_thresholds == {
        "call": {
            "first_response_s": 10,
            "response_latency_max_s": 30,
            "longest_silence_s": 30,
            "hold_max_s": 120,
            "hold_silence_s": 60,  # steers hold detection (qa.nlp.pipeline.HOLD_SETTINGS)
        },
        "chat": {"first_response_s": 60, "reply_time_max_s": 120, "reply_time_mean_s": 60},
        "email": {"reply_time_max_s": 86400},
    }


def test_content_is_grounded_in_the_seed_articles(rubric: Rubric) -> None:
    courtesy = rubric.criterion("courtesy").description.ar
    assert "بالطبع" in courtesy and "ولكن" in courtesy  # the recommended phrase swaps
    assert (
        "تجادل" in rubric.section("empathy").description.ar
    )  # do not argue with an angry customer
    assert "المختص" in rubric.criterion("escalation").label.ar  # bring in someone who knows


def test_scoring_the_builtin_rubric(rubric: Rubric) -> None:
    perfect = {c.id: Answer(c.max_value) for _, c in rubric.all_criteria()}
    assert score(rubric, perfect).overall == pytest.approx(100.0)
    lapse = score(rubric, {**perfect, "verification": Answer(0)})
    assert lapse.sections["accuracy"].score == 0.0
    assert lapse.overall == pytest.approx(70.0)  # accuracy carries 30 of 100
    rude = score(rubric, {**perfect, "no_rude_language": Answer(0)})
    assert rude.auto_fail and rude.overall == 0.0
    na_ok = {c.id for _, c in rubric.all_criteria() if c.allow_na}
    assert na_ok == {"apology", "verification", "escalation", "hold_etiquette"}
