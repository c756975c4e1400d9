"""Calibration sessions: validation, blindness, the report's numbers, trend, audit."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

import krippendorff
import numpy as np
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from qa.calibration.stats import krippendorff_alpha
from qa.models import AuditEvent, CalibrationSession, RubricVersion, User
from qa.services import calibration as cal_service
from qa.services import rubrics as rubric_service
from qa.services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from rubrics import Answer
from tests import factories


def text(label: str) -> dict[str, str]:
    return {"en": label, "ar": "معيار " + label}


def crit(cid: str, kind: str, weight: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "type": kind,
        "weight": weight,
        "label": text(cid),
        "description": text("d"),
        "guidance": text("g"),
        **extra,
    }


# Effective weights: q and s 0.5 x 1/2 = 0.25 each, p 0.5 x 1 = 0.5.
SMALL_RUBRIC = {
    "schema_version": 1,
    "key": "calib_small",
    "name": text("calibration test"),
    "sections": [
        {
            "id": "s1",
            "name": text("s1"),
            "weight": 1,
            "criteria": [
                crit("q", "yes_no", 1),
                crit("s", "scale", 1, scale={"min": 1, "max": 5}),
            ],
        },
        {
            "id": "s2",
            "name": text("s2"),
            "weight": 1,
            "criteria": [crit("p", "points", 2, max_points=10, allow_na=True)],
        },
    ],
}

# (q, s, p) per interaction I1, I2, I3
EXPERT = [(1, 5, 10), (0, 3, 5), (1, 4, 8)]
R1 = [(1, 5, 10), (0, 3, 5), (1, 4, 8)]
R2 = [(1, 4, 9), (1, 3, 4), (1, 4, 8)]
R3 = [(0, 2, 6), (0, 1, 2), (1, 5, 10)]


def answers(q: float, s: float, p: float | None) -> dict[str, Answer]:
    return {
        "q": Answer(value=float(q)),
        "s": Answer(value=float(s)),
        "p": Answer(value=None, na=True) if p is None else Answer(value=float(p)),
    }


@pytest.fixture
def small(session: Session) -> RubricVersion:
    version, _ = rubric_service.save_rubric(
        session, yaml.safe_dump(SMALL_RUBRIC, allow_unicode=True)
    )
    return version


@pytest.fixture
def people(session: Session) -> dict[str, User]:
    roles = {
        "lead": "qa_lead",
        "admin": "admin",
        "trainer": "trainer",
        "expert": "qa_lead",
        "r1": "reviewer",
        "r2": "reviewer",
        "r3": "reviewer",
        "outsider": "reviewer",
    }
    return {
        key: factories.user(session, role=role, username=f"{key}_{factories.nxt()}")
        for key, role in roles.items()
    }


def make_session(
    session: Session, small: RubricVersion, people: dict[str, User], *, expert: bool = True
) -> CalibrationSession:
    interactions = [
        factories.interaction(session, external_id=f"I{n}_{factories.nxt()}") for n in (1, 2, 3)
    ]
    return cal_service.create_session(
        session,
        people["lead"],
        name="October calibration",
        interaction_ids=[i.id for i in interactions],
        reviewer_ids=[people[k].id for k in ("r1", "r2", "r3")],
        expert_id=people["expert"].id if expert else None,
        rubric_version=small,
        tolerance=5.0,
    )


def fill(session: Session, cal: CalibrationSession, user: User, rows: list[tuple]) -> None:
    for item, row in zip(cal.items, rows, strict=True):
        cal_service.submit_answers(session, cal, item.id, user, answers(*row))


def test_creation_is_validated(
    session: Session, small: RubricVersion, people: dict[str, User]
) -> None:
    ids = [factories.interaction(session).id for _ in range(3)]
    reviewers = [people["r1"].id, people["r2"].id]
    good: dict[str, Any] = {
        "name": "x",
        "interaction_ids": ids,
        "reviewer_ids": reviewers,
        "rubric_version": small,
    }
    with pytest.raises(PermissionDenied):
        cal_service.create_session(session, people["r1"], **good)
    with pytest.raises(PermissionDenied):
        cal_service.create_session(session, people["trainer"], **good)
    bad_cases = [
        ({"name": "  "}, "name"),
        ({"interaction_ids": ids[:1]}, "pick 2-20"),
        ({"interaction_ids": [ids[0], ids[0], ids[1]]}, "listed twice"),
        ({"interaction_ids": [*ids, 999_999]}, "not found"),
        ({"reviewer_ids": reviewers[:1]}, "at least 2"),
        ({"expert_id": reviewers[0]}, "cannot also be a reviewer"),
        ({"reviewer_ids": [*reviewers, people["trainer"].id]}, "cannot take part"),
        ({"tolerance": -1}, "tolerance"),
        ({"tolerance": float("nan")}, "tolerance"),
    ]
    for change, message in bad_cases:
        with pytest.raises(InvalidInput, match=message):
            cal_service.create_session(session, people["lead"], **{**good, **change})
    # A reviewer never scores their own interactions.
    agent = factories.agent(session)
    own = factories.user(session, role="reviewer", agent_=agent)
    mine = factories.interaction(session, agent_=agent)
    with pytest.raises(InvalidInput, match="is the agent"):
        cal_service.create_session(
            session,
            people["lead"],
            **{**good, "interaction_ids": [*ids, mine.id], "reviewer_ids": [*reviewers, own.id]},
        )
    cal = cal_service.create_session(session, people["lead"], **good)
    assert [i.position for i in cal.items] == [0, 1, 2]
    assert cal.status == "open" and cal.tolerance == 5.0


def test_blind_until_closed_for_everyone_including_leads(
    session: Session, small: RubricVersion, people: dict[str, User]
) -> None:
    cal = make_session(session, small, people)
    fill(session, cal, people["r1"], R1)
    fill(session, cal, people["r2"], R2)
    fill(session, cal, people["expert"], EXPERT)

    def visible(user: User) -> set[int]:
        return {a.reviewer_id for a in cal_service.answers_visible_to(session, cal, user)}

    assert visible(people["r1"]) == {people["r1"].id}
    assert visible(people["r2"]) == {people["r2"].id}
    assert visible(people["expert"]) == {people["expert"].id}  # a lead, but a participant
    assert visible(people["lead"]) == set()  # created the session, still blind
    assert visible(people["admin"]) == set()
    assert visible(people["r3"]) == set()  # has not answered yet
    for user in (people["lead"], people["admin"], people["r1"]):
        with pytest.raises(Conflict, match="still open"):
            cal_service.build_report(session, cal, user)
    # Leads see how many items each participant answered - never the answers.
    assert cal_service.progress(session, cal, people["lead"]) == {
        people["r1"].id: 3,
        people["r2"].id: 3,
        people["r3"].id: 0,
        people["expert"].id: 3,
    }
    assert cal_service.progress(session, cal, people["r2"]) == {people["r2"].id: 3}
    # Trainers and outsiders cannot even open an open session.
    for user in (people["trainer"], people["outsider"]):
        with pytest.raises(NotFound):
            cal_service.get_session(session, cal.id, user)
    assert cal not in cal_service.sessions_for(session, people["outsider"])
    assert cal in cal_service.sessions_for(session, people["r1"])

    with pytest.raises(PermissionDenied):
        cal_service.close_session(session, cal, people["r1"])
    cal_service.close_session(session, cal, people["lead"])
    everyone = {people[k].id for k in ("r1", "r2", "expert")}
    for key in ("lead", "admin", "r1", "r3", "trainer"):
        assert visible(people[key]) == everyone, key
    assert visible(people["outsider"]) == set()
    with pytest.raises(NotFound):
        cal_service.build_report(session, cal, people["outsider"])
    with pytest.raises(Conflict, match="closed"):
        cal_service.submit_answers(session, cal, cal.items[0].id, people["r3"], answers(*R3[0]))
    with pytest.raises(Conflict, match="already closed"):
        cal_service.close_session(session, cal, people["lead"])


def test_answers_are_validated_like_reviews(
    session: Session, small: RubricVersion, people: dict[str, User]
) -> None:
    cal = make_session(session, small, people)
    item = cal.items[0].id
    with pytest.raises(cal_service.CalibrationAnswersInvalid) as caught:
        cal_service.submit_answers(
            session, cal, item, people["r1"], {"q": Answer(value=2.0), "s": Answer(value=3.5)}
        )
    codes = {(p.code, p.criterion_id) for p in caught.value.problems}
    assert codes == {("ANS002", "q"), ("ANS002", "s"), ("ANS004", "p")}
    with pytest.raises(cal_service.CalibrationAnswersInvalid, match="ANS003"):
        cal_service.submit_answers(
            session, cal, item, people["r1"], {**answers(1, 5, 10), "q": Answer(None, na=True)}
        )
    with pytest.raises(PermissionDenied):
        cal_service.submit_answers(session, cal, item, people["outsider"], answers(1, 5, 10))
    with pytest.raises(NotFound):
        cal_service.submit_answers(session, cal, 999_999, people["r1"], answers(1, 5, 10))
    # Re-submitting replaces the earlier answers.
    cal_service.submit_answers(session, cal, item, people["r1"], answers(1, 5, 10))
    cal_service.submit_answers(session, cal, item, people["r1"], answers(0, 1, None))
    mine = cal_service.my_answers(session, cal, cal.items[0], people["r1"])
    assert mine == {"q": Answer(0.0), "s": Answer(1.0), "p": Answer(None, na=True)}


def test_report_numbers_by_hand_and_against_stats(
    session: Session, small: RubricVersion, people: dict[str, User]
) -> None:
    cal = make_session(session, small, people)
    for key, rows in (("r1", R1), ("r2", R2), ("r3", R3), ("expert", EXPERT)):
        fill(session, cal, people[key], rows)
    cal_service.close_session(session, cal, people["lead"])
    report = cal_service.build_report(session, cal, people["lead"])
    stats = report.stats
    r1, r2, r3 = (people[k].username for k in ("r1", "r2", "r3"))
    labels = list(report.interactions)
    assert report.expert == people["expert"].username
    assert list(report.reviewers) == [r1, r2, r3]

    # Effective weights come from rubrics.score contributions.
    assert {c.criterion_id: c.weight for c in stats.criteria} == pytest.approx(
        {"q": 0.25, "s": 0.25, "p": 0.5}
    )
    # Overall % per reviewer per item (0.25 q% + 0.25 s% + 0.5 p%).
    assert list(stats.overall[r2].values()) == pytest.approx([88.75, 57.5, 83.75])
    assert list(stats.overall[r3].values()) == pytest.approx([36.25, 10.0, 100.0])
    first = stats.overall_interaction_stats[0]
    assert first.benchmark == pytest.approx(100.0) and first.reference_source == "benchmark"
    assert first.spread == pytest.approx(100 - 36.25)
    assert first.stdev == pytest.approx(statistics.pstdev([100, 88.75, 36.25]))

    # Points criterion: deviations from the expert in percentage points.
    p = stats.criterion("p")
    assert p.level == "interval"
    assert p.reviewer(r1).alignment == pytest.approx(100.0)
    assert p.reviewer(r2).deviations == pytest.approx(
        dict(zip(labels, [-10.0, -10.0, 0.0], strict=True))
    )
    assert p.reviewer(r2).alignment == pytest.approx(100 - 20 / 3)
    assert p.reviewer(r3).alignment == pytest.approx(70.0)
    assert p.interaction(labels[0]).spread == pytest.approx(40.0)
    outside = {b.reviewer: b.interactions for b in p.outside_tolerance}
    assert outside == {r2: tuple(labels[:2]), r3: tuple(labels)}
    raw_p = [[row[2] for row in rows] for rows in (R1, R2, R3)]
    assert p.alpha == pytest.approx(
        krippendorff.alpha(reliability_data=np.array(raw_p, float), level_of_measurement="interval")
    )
    # Yes/no at nominal level, scale at ordinal: same as the pure stats function on raw answers.
    q = stats.criterion("q")
    assert q.level == "nominal"
    assert q.alpha == pytest.approx(
        krippendorff_alpha([[row[0] for row in rows] for rows in (R1, R2, R3)], "nominal")
    )
    s = stats.criterion("s")
    assert s.level == "ordinal"
    assert s.alpha == pytest.approx(
        krippendorff.alpha(
            reliability_data=np.array([[row[1] for row in rows] for rows in (R1, R2, R3)], float),
            level_of_measurement="ordinal",
        )
    )
    # Weighted alignment of r2: q 66.67, s 91.67, p 93.33 -> 0.25/0.25/0.5 -> 86.25.
    assert stats.weighted_alignment[r1] == pytest.approx(100.0)
    assert stats.weighted_alignment[r2] == pytest.approx(86.25)
    # Overall tolerance: r2 is 11.25 and 20 points off on I1 and I2, r3 on I1-I3.
    overall_out = {
        b.reviewer: b.interactions for b in stats.outside_tolerance if b.criterion_id is None
    }
    assert overall_out == {r2: tuple(labels[:2]), r3: tuple(labels)}
    assert stats.overall_alpha == pytest.approx(
        krippendorff.alpha(
            reliability_data=np.array([list(stats.overall[r].values()) for r in (r1, r2, r3)]),
            level_of_measurement="interval",
        )
    )
    assert cal_service.interpret_alpha(0.8) == "reliable"
    assert cal_service.interpret_alpha(0.7) == "tentative"
    assert cal_service.interpret_alpha(0.5) == "unreliable"
    assert cal_service.interpret_alpha(None) is None
    exported = report.to_dict()
    assert exported["expert"] == people["expert"].username
    assert exported["report"]["weighted_alignment"][r2] == pytest.approx(86.25)
    assert report.to_csv().startswith("scope,criterion,reviewer,interaction,metric,value\n")


def test_report_without_expert_uses_the_median_and_na_is_missing(
    session: Session, small: RubricVersion, people: dict[str, User]
) -> None:
    cal = make_session(session, small, people, expert=False)
    fill(session, cal, people["r1"], R1)
    fill(session, cal, people["r2"], [(1, 4, None), *R2[1:]])
    fill(session, cal, people["r3"], R3)
    cal_service.close_session(session, cal, people["lead"])
    stats = cal_service.build_report(session, cal, people["r1"]).stats
    p = stats.criterion("p")
    first = p.interaction_stats[0]
    assert first.reference_source == "median" and first.n_answers == 2
    assert first.reference == pytest.approx(statistics.median([100, 60]))
    # N/A is skipped, not zero: r2 is compared on two items only.
    assert p.reviewer(people["r2"].username).n_compared == 2


def test_alignment_over_time(
    session: Session, small: RubricVersion, people: dict[str, User]
) -> None:
    first = make_session(session, small, people)
    for key, rows in (("r1", R1), ("r2", R2), ("r3", R3), ("expert", EXPERT)):
        fill(session, first, people[key], rows)
    cal_service.close_session(session, first, people["lead"])
    first.closed_at = datetime(2026, 9, 1, 12, tzinfo=UTC)
    second = make_session(session, small, people)
    for key, rows in (("r1", R1), ("r2", R1), ("r3", R2), ("expert", EXPERT)):
        fill(session, second, people[key], rows)
    cal_service.close_session(session, second, people["lead"])
    second.closed_at = datetime(2026, 10, 1, 12, tzinfo=UTC)
    session.flush()

    trend = cal_service.alignment_over_time(session, people["lead"], rubric_key="calib_small")
    r2 = trend.reviewer(people["r2"].username)
    assert [v for _, v in r2.points] == pytest.approx([86.25, 100.0])
    assert r2.change == pytest.approx(13.75)
    assert r2.weakest_criteria[0].criterion_id == "q"  # 66.7 then 100 -> mean 83.3
    r3 = trend.reviewer(people["r3"].username)
    assert r3.points[1][1] == pytest.approx(86.25)
    # A reviewer sees only their own line.
    own = cal_service.alignment_over_time(session, people["r3"], rubric_key="calib_small")
    assert [t.reviewer for t in own.reviewers] == [people["r3"].username]


def test_audit_records_calibration_without_leaking_answers(
    session: Session, small: RubricVersion, people: dict[str, User]
) -> None:
    cal = make_session(session, small, people)
    fill(session, cal, people["r1"], R1)
    cal_service.close_session(session, cal, people["lead"])
    events = list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.entity_type == "calibration_session", AuditEvent.entity_id == str(cal.id)
            )
            .order_by(AuditEvent.id)
        )
    )
    assert [e.action for e in events] == ["create", "answer", "answer", "answer", "close"]
    answered = events[1].after
    assert answered is not None and set(answered) == {"item", "criteria", "sha256"}
    assert events[-1].after == {
        "status": "closed",
        "items_answered": {
            str(people["r1"].id): 3,
            str(people["r2"].id): 0,
            str(people["r3"].id): 0,
            str(people["expert"].id): 0,
        },
    }
