"""English phrase flags: one table row per behaviour and spelling variant."""

from __future__ import annotations

import pytest

from qa.nlp.analyzer import Analyzer
from tests.nlp.conftest import flag_text, spans

# (text, behaviour, the span the agent wrote)
AGENT_POSITIVE = [
    ("Hello, thanks for calling Acme", "greeting", "Hello"),
    ("Good morning! How can I help?", "greeting", "Good morning"),
    ("hi there, welcome", "greeting", "hi there"),
    ("Dear customer, your order shipped", "greeting", "Dear customer"),
    ("My name is Sarah", "self_introduction", "My name is"),
    ("This is Omar from billing", "self_introduction", "This is Omar from"),
    ("I'm Priya with Acme support", "self_introduction", "I'm Priya with"),
    ("im priya from acme", "self_introduction", "im priya from"),
    ("I’m Priya from Acme", "self_introduction", "I’m Priya from"),
    ("You're speaking with John", "self_introduction", "You're speaking with"),
    # ... a name after a greeting, with nothing after the name
    ("Hi, I'm Sarah.", "self_introduction", "Hi, I'm Sarah"),
    ("Hello, this is Sarah.", "self_introduction", "Hello, this is Sarah"),
    ("hi im Priya", "self_introduction", "hi im Priya"),
    ("hi im priya", "self_introduction", None),  # the name must be capitalised
    ("Good morning, I'm Sarah from Acme", "self_introduction", "morning, I'm Sarah"),
    ("Good morning, I'm Sarah", "self_introduction", "morning, I'm Sarah"),
    ("Hi there, this is Omar.", "self_introduction", "there, this is Omar"),
    ("Hi there! I'm Priya", "self_introduction", "there! I'm Priya"),
    (
        "You've reached the customer support team",
        "self_introduction",
        "You've reached the customer",
    ),
    ("You've reached the help desk", "self_introduction", "You've reached the help desk"),
    ("Welcome to Acme!", "greeting", "Welcome to Acme"),
    ("welcome to the help desk", "greeting", "welcome to the"),
    ("Dear Sarah, thanks for your email", "greeting", "Dear Sarah"),
    ("Could you please confirm your email?", "courtesy", "Could you please"),
    ("pls confirm the address", "courtesy", "pls"),
    ("You're welcome!", "courtesy", "You're welcome"),
    ("your welcome", "courtesy", "your welcome"),
    ("ur welcome", "courtesy", "ur welcome"),
    ("yw!", "courtesy", "yw"),
    ("There are no stupid questions.", "courtesy", "There are no stupid questions"),
    ("I completely understand.", "empathy", "I completely understand"),
    ("That must be frustrating.", "empathy", "That must be frustrating"),
    ("I hear you, truly", "empathy", "I hear you"),
    ("That sounds really frustrating.", "empathy", "That sounds really frustrating"),
    ("Oh, that's so frustrating", "empathy", "that's so frustrating"),
    ("I totally get it", "empathy", "I totally get it"),
    ("I know this is frustrating", "empathy", "I know this is frustrating"),
    ("I understand your problem", "empathy", "I understand your problem"),
    ("You’re right about that", "empathy", "You’re right"),
    ("I’m sorry for the inconvenience", "apology", "sorry for the inconvenience"),
    ("My apologies for the delay", "apology", "My apologies"),
    ("I apologise for that", "apology", "I apologise"),
    ("I APOLOGIZE", "apology", "I APOLOGIZE"),
    ("im sorry", "apology", "im sorry"),
    ("I am sorry", "apology", "I am sorry"),
    ("sry about that", "apology", "sry about that"),
    ("Thank you so much!", "gratitude", "Thank you so much"),
    ("thx", "gratitude", "thx"),
    ("ok ty!", "gratitude", "ty"),
    ("ok thank u.", "gratitude", "thank u"),
    ("Really appreciate it!", "gratitude", "Really appreciate it"),
    ("I appreciate it", "gratitude", "I appreciate it"),
    ("Let me check that for you", "ownership", "Let me check that"),
    ("I'll make sure it's fixed", "ownership", "I'll make sure"),
    ("I will personally look at it", "ownership", "I will personally"),
    ("I'll check.", "ownership", "I'll check"),
    ("I'll get back to you by noon", "ownership", "I'll get back to you"),
    ("Let me take a look", "ownership", "Let me take a look"),
    ("I'll do whatever I can to help.", "ownership", "do whatever I can"),
    ("I'll deal with it personally.", "ownership", "I'll deal with it"),
    ("We'll call back later today", "ownership", "We'll call back later"),
    ("Let me finish setting up your account.", "ownership", "Let me finish setting"),
    ("ill look into it", "ownership", None),  # "ill" is a word: not a chat form of I'll
    ("Of course!", "positive_language", "Of course"),
    ("I'd be happy to help", "positive_language", "I'd be happy to"),
    ("Id be happy to", "positive_language", "Id be happy to"),
    ("I would be happy to", "positive_language", "I would be happy to"),
    ("Absolutely.", "positive_language", "Absolutely"),
    ("No problem!", "positive_language", "No problem"),
    ("Happy to assist", "positive_language", "Happy to assist"),
    ("May I place you on hold?", "hold_etiquette", "May I place you on hold"),
    ("Thank you for holding.", "hold_etiquette", "Thank you for holding"),
    ("one moment please", "hold_etiquette", "one moment please"),
    ("one sec", "hold_etiquette", "one sec"),
    ("Hang tight!", "hold_etiquette", "Hang tight"),
    ("hold on a sec", "hold_etiquette", "hold on a sec"),
    ("I'll put you on a brief hold", "hold_etiquette", "put you on a brief hold"),
    ("I'm going to place you on hold", "hold_etiquette", "going to place you on hold"),
    ("Let me place you on hold", "hold_etiquette", "Let me place you on hold"),
    (
        "Is there anything else I can help you with?",
        "closing",
        "Is there anything else I can help you with",
    ),
    ("Have a great day!", "closing", "Have a great day"),
    ("Thanks, take care of yourself!", "closing", "take care"),
    ("Anything else today?", "closing", "Anything else today"),
    ("Do you need anything else?", "closing", "need anything else"),
    ("Can I do anything else for you?", "closing", "anything else for you"),
    ("Anything else I can do?", "closing", "Anything else I can"),
    ("Can I help you with anything else?", "closing", "Can I help you with anything else"),
    ("Have a good night", "closing", "Have a good night"),
    ("That's not my problem.", "dismissive", "That's not my problem"),
    ("thats not my problem", "dismissive", "thats not my problem"),
    ("Calm down, sir", "dismissive", "Calm down"),
    ("Whatever.", "dismissive", "Whatever"),
    ("You'll just have to deal with it.", "dismissive", "deal with it"),
    ("You'll have to call back later.", "dismissive", "You'll have to call back"),
    ("There's nothing more I can do.", "dismissive", "nothing more I can do"),
    ("It's your fault", "blame", "It's your fault"),
    ("You should have read the terms", "blame", "You should have read"),
    ("You shouldn't have done that.", "blame", "You shouldn't have done"),
    ("You were supposed to send the form", "blame", "You were supposed to send"),
    ("You should have backed up your files", "blame", "You should have backed"),
    ("You should've checked the settings", "blame", "You should've checked"),
    ("You shouldnt have clicked that link", "blame", "You shouldnt have clicked"),
    ("you were supposed to call us first", "blame", "you were supposed to call"),
    ("No, it's your fault", "blame", "it's your fault"),  # the comma ends the negation
    ("You're wrong", "argue", "You're wrong"),
    ("that is not true", "argue", "that is not true"),
    ("That’s not true", "argue", "That’s not true"),
    ("That's wrong.", "argue", "That's wrong"),
    ("That's impossible.", "argue", "That's impossible"),
    ("Let me finish!", "argue", "Let me finish"),
    ("Let me finish the sentence, please.", "argue", "Let me finish"),
    ("Could you let me finish this point?", "argue", "let me finish"),
    ("You don't understand.", "argue", "You don't understand"),
    ("I can do it, but it takes time", "negative_language", "but"),
    ("BUT that is the rule", "negative_language", "BUT"),
    ("Unfortunately, no.", "negative_language", "Unfortunately"),
    ("I can't do that", "negative_language", "I can't do that"),
    ("I cannot do that", "negative_language", "I cannot do that"),
    ("i can not do that", "negative_language", "i can not do that"),
    ("I cant do that", "negative_language", "I cant do that"),
    ("I'm unable to change it", "negative_language", "I'm unable to"),
    ("We are unable to refund that", "negative_language", "We are unable to"),
    ("I don't know", "uncertainty", "I don't know"),
    ("i dont know", "uncertainty", "i dont know"),
    ("I do not know", "uncertainty", "I do not know"),
    ("idk", "uncertainty", "idk"),
    ("I'm not 100% sure", "uncertainty", "not 100% sure"),
    ("I'm not really sure", "uncertainty", "not really sure"),
    ("Shut up", "rude", "Shut up"),
    ("I don’t care", "rude", "I don’t care"),
    ("That's your problem, not mine.", "rude", "That's your problem"),
    ("Stop shouting!", "rude", "Stop shouting"),
    ("Please go away", "rude", "Please go away"),
    ("That's a stupid idea", "rude", "stupid"),
    ("I can’t help you", "dismissive", "I can’t help you"),
    ("I cannot help you", "dismissive", "I cannot help you"),
]

CUSTOMER_POSITIVE = [
    ("This is unacceptable!", "customer_frustration", "This is unacceptable"),
    ("I'm fed up with this", "customer_frustration", "fed up"),
    ("for the third time!!", "customer_frustration", "for the third time"),
    ("I want to speak to a manager", "customer_escalation_request", "speak to a manager"),
    ("Let me talk to your supervisor", "customer_escalation_request", "talk to your supervisor"),
    ("I want to speak to the manager", "customer_escalation_request", "speak to the manager"),
    ("Can I speak with a manager?", "customer_escalation_request", "speak with a manager"),
    ("I want a supervisor now", "customer_escalation_request", "I want a supervisor"),
    ("Transfer me to a supervisor", "customer_escalation_request", "Transfer me to a supervisor"),
    ("This is not acceptable", "customer_frustration", "not acceptable"),
    ("I will cancel my account", "customer_churn_threat", "cancel my account"),
]

# (text, behaviour, speaker): must NOT be flagged
NEGATIVE = [
    ("Press the button to continue", "negative_language", "agent"),  # but / button
    ("The butler did it", "negative_language", "agent"),  # but / butler
    ("hiking boots are in stock", "greeting", "agent"),  # hi / hiking
    ("Happy thanksgiving", "gratitude", "agent"),  # thanks / thanksgiving
    ("maybelline is a brand", "uncertainty", "agent"),  # maybe / maybelline
    ("a sorrowful story", "apology", "agent"),
    ("I'm not sorry", "apology", "agent"),  # negated
    ("I am not sorry at all", "apology", "agent"),
    ("There's nothing to be sorry about", "apology", "agent"),
    ("I never apologize", "apology", "agent"),
    ("I don't understand", "empathy", "agent"),
    ("I'm not happy to help", "positive_language", "agent"),
    ("This is not acceptable", "self_introduction", "agent"),
    ("I'm calling from the bank", "self_introduction", "agent"),
    ("Hi, my name is Ann", "greeting", "customer"),  # agent behaviours never on customers
    ("I'm so sorry to bother you", "apology", "customer"),
    ("You're wrong!", "argue", "customer"),
    ("This is unacceptable", "customer_frustration", "agent"),  # cues only on customers
    ("I'm not frustrated at all", "customer_frustration", "customer"),
    ('The note says "you are wrong" but ignore it', "argue", "agent"),  # quoted speech
    ("You said “calm down” earlier", "dismissive", "agent"),
    ("Hello", "greeting", "system"),
    # blame is negatable: reassurance is not blame
    ("It's not your fault at all.", "blame", "agent"),
    ("That wasn't your fault.", "blame", "agent"),
    ("It was never your fault", "blame", "agent"),
    # what the customer should have got is not blame
    ("You should have received a confirmation email.", "blame", "agent"),
    ("You should have access by now", "blame", "agent"),
    ("You shouldn't have to wait this long.", "blame", "agent"),
    ("You shouldn't have been charged twice", "blame", "agent"),
    ("You were supposed to get a refund", "blame", "agent"),
    # avoid words inside longer use phrases or other senses
    ("Let me fix your problem", "rude", "agent"),
    ("I understand your problem", "rude", "agent"),
    ("The fee will go away", "rude", "agent"),
    ("your package won't get lost", "rude", "agent"),
    ("There are no stupid questions.", "rude", "agent"),
    ("I'll do whatever I can to help.", "dismissive", "agent"),
    ("I'll deal with it personally.", "dismissive", "agent"),
    ("We'll call back later today", "dismissive", "agent"),
    ("Once things calm down", "dismissive", "agent"),
    ("I'll take care of it for you.", "closing", "agent"),
    ("Let me finish the paperwork for your refund.", "argue", "agent"),
    ("Our hi-fi range is on sale", "greeting", "agent"),
    ("Let me finish setting up your account.", "argue", "agent"),
    ("If you don't understand anything, just ask me.", "argue", "agent"),
    ("Nothing is impossible", "argue", "agent"),
    # self-introduction needs a name, not a state or a department
    ("This is billed at the end of the month", "self_introduction", "agent"),
    ("This is included with your plan", "self_introduction", "agent"),
    ("You've reached your data limit", "self_introduction", "agent"),
    ("I'm available from 9", "self_introduction", "agent"),
    ("This is Billing", "self_introduction", "agent"),
    ("Hello, this is Billing", "self_introduction", "agent"),
    ("Hi, I'm sorry to hear that", "self_introduction", "agent"),
    ("Hello, I'm here to help", "self_introduction", "agent"),
    ("Hi, this is regarding your order", "self_introduction", "agent"),
    # greeting words in other senses
    ("Oh dear", "greeting", "agent"),
    ("Oh dear, I see", "greeting", "agent"),
    ("You're welcome to visit our store", "greeting", "agent"),
    ("It's not impossible", "argue", "agent"),
    # audit: a greeting word ending a sentence, or a lower-case word after "Hi, I'm"
    ("It should be there. I'm pretty sure it is.", "self_introduction", "agent"),
    ("It arrives in the morning. I'm hoping that works.", "self_introduction", "agent"),
    ("I'll call you this afternoon. I'm confident it's fixed.", "self_introduction", "agent"),
    ("Hi, I'm wondering if you got my email.", "self_introduction", "agent"),
    ("Hi, I'm unsure.", "self_introduction", "agent"),
    ("hi i'm extremely sorry", "self_introduction", "agent"),
    ("Hi, this is important.", "self_introduction", "agent"),
    ("Hi there, this is odd.", "self_introduction", "agent"),
    ("You've reached our daily limit", "self_introduction", "agent"),
    ("You've reached Gold status", "self_introduction", "agent"),
    # audit: what the customer should have (got) is no blame
    ("You shouldn't have problems logging in now.", "blame", "agent"),
    ("You shouldn't have any trouble", "blame", "agent"),
    ("You shouldn't have needed to call us twice, I'm sorry.", "blame", "agent"),
    ("You should have internet back within the hour.", "blame", "agent"),
    ("You should have credit on your account", "blame", "agent"),
    ("You should have my direct number", "blame", "agent"),
    ("You were supposed to only be charged once.", "blame", "agent"),
    # audit: words of avoid / use phrases in other senses
    ("Did you try anything else before calling?", "closing", "agent"),
    ("Anything else will be billed separately.", "closing", "agent"),
    ("The good night rate applies", "closing", "agent"),
    ("If you are unable to log in, click reset.", "negative_language", "agent"),
    ("The system was unable to process your payment.", "negative_language", "agent"),
    ("Sorry, that's wrong on our side.", "argue", "agent"),
    ("That's wrong on my end, apologies.", "argue", "agent"),
    ("The error should just go away after the update.", "rude", "agent"),
    ("Packages sometimes just get lost in transit", "rude", "agent"),
    ("Let me finish the sentence, please.", "ownership", "agent"),
    ("Could you let me finish this point?", "ownership", "agent"),
    ("I don't appreciate it when you yell.", "gratitude", "agent"),
    ("You're welcome to the free upgrade", "greeting", "agent"),
    ("You are welcome to our lounge", "greeting", "agent"),
]


@pytest.mark.parametrize(("text", "behavior", "expected"), AGENT_POSITIVE)
def test_agent_behaviour(en: Analyzer, text: str, behavior: str, expected: str | None) -> None:
    found = spans(en, text, behavior)
    if expected is None:
        assert found == []
    else:
        assert expected in found, (text, flag_text(en, text))


@pytest.mark.parametrize(("text", "behavior", "expected"), CUSTOMER_POSITIVE)
def test_customer_cue(en: Analyzer, text: str, behavior: str, expected: str) -> None:
    assert expected in spans(en, text, behavior, "customer")


@pytest.mark.parametrize(("text", "behavior", "speaker"), NEGATIVE)
def test_not_flagged(en: Analyzer, text: str, behavior: str, speaker: str) -> None:
    assert spans(en, text, behavior, speaker) == []


def test_flag_fields(en: Analyzer) -> None:
    (f,) = [f for f in flag_text(en, "Well, that's not my problem.") if f.behavior == "dismissive"]
    assert f.rule == "en.dismissive.not_my_problem"
    assert f.polarity == "avoid"
    assert f.severity == "high"
    assert f.criterion == "no_rude_language"
    assert f.suggestion and f.coaching_tip
    assert (f.start, f.end) == (6, 27)


def test_overlapping_same_behaviour_counts_once(en: Analyzer) -> None:
    flags = [f for f in flag_text(en, "I'm so sorry about that") if f.behavior == "apology"]
    assert len(flags) == 1


def test_contained_use_phrases_both_count(en: Analyzer) -> None:
    behaviours = {f.behavior for f in flag_text(en, "Thank you for holding")}
    assert {"gratitude", "hold_etiquette"} <= behaviours


def test_quoted_only_when_inside_quotes(en: Analyzer) -> None:
    text = 'You are wrong. He wrote "you are wrong" too'
    flags = [f for f in flag_text(en, text) if f.behavior == "argue"]
    assert [(f.start, f.end) for f in flags] == [(0, 13)]


def test_mixed_script_offsets(en: Analyzer) -> None:
    text = "مرحبا أحمد — I'm sorry, we can't ship to الرياض today"
    flags = flag_text(en, text)
    got = {(f.behavior, f.text) for f in flags}
    assert ("apology", "I'm sorry") in got
    assert ("negative_language", "we can't") in got
