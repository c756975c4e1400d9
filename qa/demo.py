"""Demo data: a believable contact centre in English and Arabic.

The generator writes interactions through the real importer and reviews
through the real review service, so the demo exercises the same code paths as
production data. Transcripts are assembled from templates that mix good and bad
agent behaviour (greeting or none, empathy or dismissiveness, announced holds
or dead air, slow replies, a proper closing or none); each generated
interaction remembers which behaviours it contains, and reviewer answers follow
them through the rubric's ``evidence`` blocks, so scores, flags and coaching
agree with what the transcripts say.

Deterministic: the same ``seed`` and ``today`` produce the same database.
"""

from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from qa.db import session_scope
from qa.importer import import_stream
from qa.models import Agent, Base, Interaction, Team, User
from qa.services import rubrics as rubric_service
from qa.services import users as user_service
from qa.services.reviews import save_review, start_review
from rubrics import Answer

DEMO_PASSWORD = "demo-password"
DEMO_SOURCE = "demo"


@dataclass
class DemoAccounts:
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)


TEAMS = [
    ("Riyadh Care", "ar"),
    ("Cairo Support", "mixed"),
    ("London Support", "en"),
]

AR_NAMES = [
    "أحمد الشهري",
    "سارة العتيبي",
    "محمد القحطاني",
    "نورة الدوسري",
    "خالد الحربي",
    "ريم الزهراني",
    "عمر المطيري",
    "هند السبيعي",
    "يوسف عبد الله",
    "منى حسن",
    "مصطفى إبراهيم",
    "ليلى محمود",
]
EN_NAMES = [
    "Emma Clarke",
    "Oliver Hughes",
    "Amelia Turner",
    "Jack Morgan",
    "Sophie Bennett",
    "Harry Collins",
    "Grace Walker",
    "Leo Foster",
    "Chloe Price",
    "Noah Reed",
    "Mia Shaw",
    "Ethan Ward",
]


# ----------------------------------------------------------------------------- templates

EN = {
    "greet_full": "Good morning, thank you for calling Nile Telecom, my name is {agent}. How can I help you today?",
    "greet_only": "Hello, how can I help?",
    "greet_none": "Yes?",
    "chat_greet": "Hi there! Thanks for reaching out, I'm {agent} from Nile Telecom support. How can I help?",
    "email_greet": "Dear customer,\n\nThank you for contacting Nile Telecom. My name is {agent} and I will be handling your request.",
    "empathy_good": "I completely understand how frustrating that must be, and I'm sorry for the trouble this has caused.",
    "empathy_bad": "Well, that's not my problem, you should have read the terms.",
    "argue": "No, you're wrong, that's impossible. Our system doesn't make mistakes.",
    "hold_ask": "May I place you on a brief hold while I check your account?",
    "hold_thanks": "Thank you for holding, I appreciate your patience.",
    "resolve_good": "I've found the issue: you were charged twice for October. I've issued a refund of {amount} riyals and it will appear within 3 to 5 business days. I'll personally follow up to make sure it goes through.",
    "resolve_unsure": "I don't know, maybe it will fix itself. I'm not sure what to tell you.",
    "close_good": "Is there anything else I can help you with today? Thank you for calling Nile Telecom, have a wonderful day!",
    "close_bad": "Ok. Bye.",
    "back": "Okay, I'm back. Let me see.",
    "email_close": "If there is anything else we can do, just reply to this email. Thank you for your patience.\n\nKind regards,\n{agent}",
}
EN_CUSTOMER = {
    "issue": [
        "Hi, I was charged twice on my bill this month and I need it fixed.",
        "My internet has been down since yesterday and I work from home.",
        "I ordered a router two weeks ago and it still hasn't arrived.",
        "I can't log into my account, the password reset link doesn't work.",
    ],
    "frustrated": "This is unacceptable, this is the third time I'm calling about this!",
    "escalate": "I want to speak to your manager right now.",
    "calm": "Okay, thanks.",
    "bye": "Thanks, bye.",
}
AR = {
    "greet_full": "السلام عليكم، شكراً لاتصالك بشركة النيل للاتصالات، معك {agent}. كيف أقدر أساعدك اليوم؟",
    "greet_only": "أهلاً، تفضل.",
    "greet_none": "نعم؟",
    "chat_greet": "مرحباً بك! معك {agent} من خدمة عملاء النيل للاتصالات، كيف يمكنني مساعدتك؟",
    "email_greet": "عزيزي العميل،\n\nشكراً لتواصلك مع شركة النيل للاتصالات. اسمي {agent} وسأتولى طلبك بنفسي.",
    "empathy_good": "أتفهم شعورك تماماً، ونود أن نعرب لك عن خالص أسفنا لمواجهتك هذه المشكلة.",
    "empathy_bad": "هذا مش شغلي، كان لازم تقرأ الشروط.",
    "argue": "لا، أنت غلطان، هذا مستحيل. النظام ما يغلط.",
    "hold_ask": "هل تسمح لي أن أضعك على الانتظار لحظة حتى أراجع حسابك؟",
    "hold_thanks": "شكراً لانتظارك، أقدر صبرك.",
    "resolve_good": "بالطبع! وجدت المشكلة: تم خصم فاتورة أكتوبر مرتين. أصدرت لك استرداداً بقيمة {amount} ريال وسيظهر خلال ٣ إلى ٥ أيام عمل، وسأتابع الموضوع بنفسي.",
    "resolve_unsure": "ما أدري، يمكن تنحل لحالها. مش عارف إيش أقول لك.",
    "close_good": "هل هناك أي شيء آخر أقدر أساعدك فيه؟ شكراً لاتصالك، نتمنى لك يوماً سعيداً.",
    "close_bad": "طيب. مع السلامة.",
    "back": "طيب، رجعت. خليني أشوف.",
    "email_close": "إذا احتجت أي شيء آخر يسعدنا خدمتك بالرد على هذه الرسالة. شكراً لصبرك.\n\nمع أطيب التحيات،\n{agent}",
}
AR_CUSTOMER = {
    "issue": [
        "السلام عليكم، انخصمت مني الفاتورة مرتين هذا الشهر وأبغى حل.",
        "الإنترنت مقطوع عندي من أمس وأنا أشتغل من البيت.",
        "طلبت راوتر من أسبوعين وللحين ما وصل.",
        "ما أقدر أدخل على حسابي، رابط استعادة كلمة المرور ما يشتغل.",
    ],
    "frustrated": "هذا غير مقبول، هذي ثالث مرة أتصل عشان نفس المشكلة!",
    "escalate": "أريد التحدث مع المدير الآن.",
    "calm": "تمام، شكراً.",
    "bye": "شكراً، مع السلامة.",
}


@dataclass
class _Profile:
    """How an agent tends to behave: probabilities of each good habit."""

    greet: float
    intro: float
    empathy: float
    hold: float
    accurate: float
    close: float
    speed: float  # 1 = fast replies, 0 = slow


def _profile(rng: random.Random) -> _Profile:
    skill = rng.uniform(0.35, 0.98)

    def p(spread: float = 0.15) -> float:
        return min(0.99, max(0.05, rng.gauss(skill, spread)))

    return _Profile(p(), p(), p(), p(), p(0.1), p(), p(0.25))


def _conversation(
    rng: random.Random, lang: str, channel: str, agent_first: str, prof: _Profile
) -> tuple[list[dict[str, Any]], set[str]]:
    """Build turns (with times) and the set of behaviour tags they contain."""
    t = EN if lang == "en" else AR
    c = EN_CUSTOMER if lang == "en" else AR_CUSTOMER
    tags: set[str] = set()
    lines: list[tuple[str, str, float]] = []  # speaker, text, gap before (s)
    slow = rng.random() > prof.speed
    reply = {
        "call": ((0.5, 3.0), (8.0, 25.0)),
        "chat": ((10.0, 50.0), (150.0, 420.0)),
        "email": ((3600.0, 20000.0), (90000.0, 200000.0)),
    }[channel]

    def gap(fast: tuple[float, float], slow_: tuple[float, float]) -> float:
        return rng.uniform(*(slow_ if slow else fast))

    greet_roll = rng.random()
    if channel == "email":
        lines.append(("customer", rng.choice(c["issue"]), 0.0))
        if greet_roll < prof.greet:
            lines.append(("agent", t["email_greet"].format(agent=agent_first), gap(*reply)))
            tags |= {"greeting", "self_introduction", "gratitude"}
    else:
        if channel == "call":
            first_gap = rng.uniform(1, 4) if not slow else rng.uniform(12, 30)
        else:
            first_gap = rng.uniform(20, 60) if not slow else rng.uniform(120, 400)
        if greet_roll < prof.greet and rng.random() < prof.intro:
            key = "greet_full" if channel == "call" else "chat_greet"
            lines.append(("agent", t[key].format(agent=agent_first), first_gap))
            tags |= {"greeting", "self_introduction"}
        elif greet_roll < prof.greet:
            lines.append(("agent", t["greet_only"], first_gap))
            tags.add("greeting")
        else:
            lines.append(("agent", t["greet_none"], first_gap))
        lines.append(("customer", rng.choice(c["issue"]), rng.uniform(0.5, 2)))
    frustrated = rng.random() < 0.35
    if frustrated:
        lines.append(("customer", c["frustrated"], rng.uniform(0.5, 2)))
        tags.add("customer_frustration")
    if rng.random() < prof.empathy:
        lines.append(("agent", t["empathy_good"], gap(*reply)))
        tags |= {"empathy", "apology"}
    elif frustrated or rng.random() < 0.5:
        bad = "empathy_bad" if rng.random() < 0.6 else "argue"
        lines.append(("agent", t[bad], gap(*reply)))
        tags.add("dismissive" if bad == "empathy_bad" else "argue")
        if frustrated and rng.random() < 0.5:
            lines.append(("customer", c["escalate"], rng.uniform(0.5, 2)))
            tags.add("customer_escalation_request")
    if channel == "call" and rng.random() < 0.5:
        if rng.random() < prof.hold:
            lines.append(("agent", t["hold_ask"], gap(*reply)))
            lines.append(("customer", c["calm"], rng.uniform(0.5, 2)))
            lines.append(("agent", t["hold_thanks"], rng.uniform(30, 90)))
            tags.add("hold_etiquette")
        else:
            lines.append(("agent", t["back"], rng.uniform(140, 240)))
            tags.add("dead_air")
    amount = rng.choice([45, 60, 120, 199, 250])
    if rng.random() < prof.accurate:
        lines.append(("agent", t["resolve_good"].format(amount=amount), gap(*reply)))
        tags |= {"ownership", "positive_language", "accurate"}
    else:
        lines.append(("agent", t["resolve_unsure"], gap(*reply)))
        tags.add("uncertainty")
    if channel != "email":
        lines.append(("customer", c["calm"], rng.uniform(0.5, 3)))
    if rng.random() < prof.close:
        key = "email_close" if channel == "email" else "close_good"
        lines.append(
            (
                "agent",
                t[key].format(agent=agent_first),
                gap(*reply) if channel == "email" else rng.uniform(0.5, 3),
            )
        )
        tags |= {"closing", "gratitude"}
    else:
        lines.append(("agent", t["close_bad"], rng.uniform(0.5, 3)))
    if channel != "email":
        lines.append(("customer", c["bye"], rng.uniform(0.3, 1.5)))
    if slow:
        tags.add("slow")

    turns: list[dict[str, Any]] = []
    clock = 0.0
    for speaker, text, before in lines:
        clock += before
        if channel == "call":
            length = max(1.5, len(text) / 15.0)
        elif channel == "chat":
            length = max(2.0, len(text) / 8.0)
        else:
            length = 0.0
        turns.append(
            {
                "speaker": speaker,
                "text": text,
                "start": round(clock, 2),
                "end": round(clock + length, 2),
            }
        )
        clock += length
    return turns, tags


# ----------------------------------------------------------------------------- answers


def _answers_for(
    rubric: Any, tags: set[str], channel: str, rng: random.Random, care: float
) -> dict[str, Answer]:
    """Reviewer answers that follow the transcript's behaviours via the rubric's evidence."""
    answers: dict[str, Answer] = {}
    for _section, crit in rubric.all_criteria():
        ev = getattr(crit, "evidence", None)
        good: bool | None = None
        if ev is not None:
            if set(ev.avoid) & tags or any(_finding_present(f, tags) for f in ev.findings):
                good = False
            elif set(ev.use) & tags:
                good = True
            elif ev.metrics:
                good = "slow" not in tags and "dead_air" not in tags
        if crit.id.startswith("hold") and channel != "call" and crit.allow_na:
            answers[crit.id] = Answer(value=None, na=True)
            continue
        if good is None:
            good = rng.random() < care
        answers[crit.id] = Answer(value=_value(crit, good, rng), na=False)
    return answers


def _finding_present(finding: str, tags: set[str]) -> bool:
    """Whether a ``missing_*`` finding would fire on a transcript with these tags."""
    if finding == "missing_empathy_after_frustration":
        return "customer_frustration" in tags and "empathy" not in tags
    return finding.removeprefix("missing_") not in tags


def _value(crit: Any, good: bool, rng: random.Random) -> float:
    if crit.type == "yes_no":
        return 1.0 if good else 0.0
    if crit.type == "scale":
        lo, hi = crit.scale.min, crit.scale.max
        if good:
            return float(rng.choice([hi, hi, hi - 1]))
        return float(rng.choice([lo, lo + 1, min(hi, lo + 2)]))
    top = float(crit.max_points)
    return top if good else round(top * rng.choice([0.0, 0.25, 0.5]), 2)


# ----------------------------------------------------------------------------- build


def demo_exists(session: Session) -> bool:
    return bool(
        session.scalar(
            select(func.count()).select_from(Interaction).where(Interaction.source == DEMO_SOURCE)
        )
    )


def reset_database(engine: Engine) -> None:
    """Drop every table (including Alembic's) so the demo starts from nothing."""
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def build_demo(
    session: Session,
    *,
    seed: int = 7,
    today: date | None = None,
    interactions: int = 640,
    review_share: float = 0.45,
) -> DemoAccounts:
    rng = random.Random(seed)
    today = today or datetime.now(UTC).date()
    end = datetime(today.year, today.month, today.day, tzinfo=UTC)
    start = end - timedelta(days=182)
    version = rubric_service.install_builtin(session)
    rubric = rubric_service.rubric_of(version)
    accounts = DemoAccounts()

    # Teams and agents (Arabic-speaking agents get locale ar).
    roster: list[tuple[str, str, str, str, _Profile]] = []  # ext id, name, team, lang, profile
    ar_pool, en_pool = list(AR_NAMES), list(EN_NAMES)
    for team_name, kind in TEAMS:
        for i in range(8):
            if kind == "ar" or (kind == "mixed" and i % 2 == 0):
                name, lang = ar_pool.pop(0), "ar"
            else:
                name, lang = en_pool.pop(0), "en"
            ext = f"AG{len(roster) + 1:03d}"
            roster.append((ext, name, team_name, lang, _profile(rng)))

    # Teams and agents exist up front (an agent may draw no interactions with a small
    # demo); the importer then finds them by external id.
    teams = {name: Team(name=name) for name, _kind in TEAMS}
    session.add_all(teams.values())
    session.flush()
    for ext, name, team_name, lang, _prof in roster:
        session.add(
            Agent(
                external_id=ext,
                name=name,
                team_id=teams[team_name].id,
                locale=lang,
                email=f"{ext.lower()}@demo.jawda.local",
                is_active=True,
            )
        )
    session.flush()

    # Interactions, generated as JSONL and imported through the real importer.
    buf = io.BytesIO()
    meta: dict[str, tuple[set[str], str]] = {}
    ar_agents = [r for r in roster if r[3] == "ar"]
    en_agents = [r for r in roster if r[3] == "en"]
    for n in range(interactions):
        lang = "ar" if rng.random() < 0.34 else "en"
        ext, name, team_name, _lang, prof = rng.choice(ar_agents if lang == "ar" else en_agents)
        channel = rng.choices(["call", "chat", "email"], weights=[6, 3, 1])[0]
        when = start + timedelta(seconds=rng.randrange(int((end - start).total_seconds())))
        first = name.split()[0]
        turns, tags = _conversation(rng, lang, channel, first, prof)
        iid = f"DEMO-{n + 1:05d}"
        meta[iid] = (tags, channel)
        record = {
            "external_id": iid,
            "channel": channel,
            "language": lang,
            "started_at": when.isoformat(),
            "agent": {"id": ext, "name": name, "team": team_name},
            "customer_id": f"C{rng.randrange(10000, 99999)}",
            "turns": turns,
            "metadata": {"queue": rng.choice(["billing", "technical", "orders", "accounts"])},
        }
        if channel == "call":
            record["recording"] = f"recordings/{iid}.mp3"
        buf.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
    buf.seek(0)
    report = import_stream(session, buf, name="demo.jsonl", fmt="jsonl", source=DEMO_SOURCE)

    agents = {a.external_id: a for a in session.scalars(select(Agent))}

    # Accounts: one per role, and one per agent (Arabic agents get locale ar). They all
    # share the demo password, so it is hashed once (argon2 is deliberately slow).
    shared_hash = user_service.hash_password(DEMO_PASSWORD)

    def add(
        username: str, role: str, locale: str, display: str, agent: Agent | None = None
    ) -> User:
        user = user_service.create_user(
            session,
            username,
            role=role,
            password_hash=shared_hash,
            display_name=display,
            locale=locale,
            agent=agent,
            email=f"{username}@demo.jawda.local",
        )
        return user

    add("admin", "admin", "en", "Administrator")
    add("lead", "qa_lead", "en", "Layla (QA lead)")
    accounts.logins += [("admin", "admin", "en"), ("lead", "qa_lead", "en")]
    reviewers = [
        add("reviewer", "reviewer", "en", "Rachel Evans"),
        add("murajia", "reviewer", "ar", "فاطمة الحربي"),
        add("reviewer3", "reviewer", "en", "Daniel Kim"),
    ]
    accounts.logins += [
        ("reviewer", "reviewer", "en"),
        ("murajia", "reviewer", "ar"),
        ("reviewer3", "reviewer", "en"),
    ]
    add("trainer", "trainer", "en", "Tom (trainer)")
    accounts.logins.append(("trainer", "trainer", "en"))
    first_en = first_ar = None
    for ext, name, _team, lang, _prof in roster:
        username = ext.lower()
        add(username, "agent", lang, name, agents[ext])
        if lang == "en" and first_en is None:
            first_en = username
        if lang == "ar" and first_ar is None:
            first_ar = username
    accounts.logins += [(first_en or "", "agent", "en"), (first_ar or "", "agent", "ar")]
    session.flush()

    # Reviews by three reviewers with different care (how often they give benefit of doubt).
    care = {reviewers[0].id: 0.8, reviewers[1].id: 0.7, reviewers[2].id: 0.85}
    rows = session.execute(
        select(Interaction.id, Interaction.external_id)
        .where(Interaction.source == DEMO_SOURCE)
        .order_by(Interaction.id)
    ).all()
    reviews = 0
    for iid, ext in rows:
        if rng.random() > review_share:
            continue
        tags, channel = meta[ext]
        reviewer = rng.choice(reviewers)
        review = start_review(session, iid, reviewer, rubric_version=version)
        answers = _answers_for(rubric, tags, channel, rng, care[reviewer.id])
        comment = _comment(tags, rng, reviewer.locale)
        save_review(session, review, answers, reviewer, submit=rng.random() < 0.93, comment=comment)
        reviews += 1

    accounts.stats = {
        "teams": len(TEAMS),
        "agents": len(roster),
        "interactions": report.imported,
        "reviews": reviews,
    }
    session.flush()
    return accounts


def _comment(tags: set[str], rng: random.Random, locale: str) -> str | None:
    notes_en = {
        "dismissive": "Dismissive reply to the customer's problem; acknowledge first, then solve.",
        "argue": "Argued with an upset customer. Listen, don't argue; show you understand.",
        "uncertainty": "Gave uncertain information; check the knowledge base or escalate instead of guessing.",
        "dead_air": "Long silence without announcing a hold.",
        "slow": "Replies were slow; keep the customer informed.",
    }
    notes_ar = {
        "dismissive": "رد غير مبالٍ بمشكلة العميل؛ أظهر التفهم أولاً ثم قدّم الحل.",
        "argue": "جادل عميلاً غاضباً. استمع ولا تجادل، وأظهر تعاطفك.",
        "uncertainty": "معلومة غير مؤكدة؛ راجع قاعدة المعرفة أو حوّل العميل لمن يعرف الإجابة.",
        "dead_air": "صمت طويل دون إبلاغ العميل بالانتظار.",
        "slow": "الردود بطيئة؛ أبقِ العميل على اطلاع.",
    }
    notes = notes_ar if locale == "ar" else notes_en
    found = [notes[t] for t in sorted(tags) if t in notes]
    if found:
        return " ".join(found)
    if rng.random() < 0.3:
        return "عمل ممتاز، استمر." if locale == "ar" else "Great call, well handled."
    return None


def finish_demo(engine: Engine, settings: Any, *, today: date | None = None) -> dict[str, int]:
    """What a running centre would have by now: queues, coaching flags, last month's
    scorecards. Runs after auto-QA so coaching and scorecards see the flags."""
    from qa.services.periods import add_months
    from qa.services.queue import fill_queues, save_rule
    from scorecards.coaching import refresh_coaching_flags
    from scorecards.issue import issue_month

    today = today or datetime.now(UTC).date()
    tz = settings.tz
    prev = add_months(today.year, today.month, -1)
    with session_scope(engine) as session:
        lead = session.scalar(select(User).where(User.username == "lead"))
        reviewers = list(
            session.scalars(select(User).where(User.role == "reviewer").order_by(User.id))
        )
        assert lead is not None
        rule = save_rule(session, lead, name="Monthly sample", per_agent_per_month=3)
        queued = fill_queues(
            session, rule, reviewers, year=today.year, month=today.month, tz=tz, actor=lead
        ).assigned
        for year, month in (add_months(prev[0], prev[1], -1), prev):
            refresh_coaching_flags(session, year, month, tz)
    issued = issue_month(engine, prev[0], prev[1], tz)
    return {"queued": queued, "scorecards": len(issued.issued)}
