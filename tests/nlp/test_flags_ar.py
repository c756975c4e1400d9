"""Arabic phrase flags: MSA and dialects, spelling variants, clitics and suffixes."""

from __future__ import annotations

import pytest

from qa.nlp.analyzer import Analyzer
from tests.nlp.conftest import flag_text, spans

AGENT_POSITIVE = [
    # greeting
    ("السلام عليكم ورحمة الله", "greeting", "السلام عليكم ورحمة الله"),
    ("أهلاً وسهلاً بك", "greeting", "أهلاً وسهلاً"),
    ("اهلا وسهلا", "greeting", "اهلا وسهلا"),
    ("صباح الخير يا أستاذ", "greeting", "صباح الخير"),
    ("مساء الخير", "greeting", "مساء الخير"),
    ("مرحباً", "greeting", "مرحباً"),
    ("أهلين، كيفك؟", "greeting", "أهلين"),
    ("يا هلا", "greeting", "يا هلا"),
    ("هلا والله", "greeting", "هلا والله"),
    ("هلا بك في خدمة العملاء", "greeting", "هلا بك"),
    ("هلا بيك", "greeting", "هلا بيك"),
    ("صباح الفل", "greeting", "صباح الفل"),
    # self introduction (token patterns and phrases)
    ("معك سارة من خدمة العملاء", "self_introduction", "معك سارة"),
    ("معاك محمد، إزيك؟", "self_introduction", "معاك محمد"),
    ("اسمي أحمد", "self_introduction", "اسمي"),
    ("واسمي أحمد", "self_introduction", "واسمي"),
    ("معك علي من خدمة العملاء", "self_introduction", "معك علي من"),
    ("معك تامر", "self_introduction", "معك تامر"),
    ("أنا فاطمة من خدمة العملاء", "self_introduction", "أنا فاطمة من خدمة"),
    # ... with the name written with tashkeel (the name pattern asks for a word
    # of letters; marks are not letters to str.isalpha, so it is judged normalised)
    ("معك مُحمّد، كيف أقدر أساعدك؟", "self_introduction", "معك مُحمّد"),
    ("معاك سارةُ من خدمة العملاء", "self_introduction", "معاك سارةُ"),
    ("أنا فاطمةُ من خدمة العملاء", "self_introduction", "أنا فاطمةُ من خدمة"),
    # courtesy
    ("لو سمحت انتظر", "courtesy", "لو سمحت"),
    ("من فضلك أرسل الرقم", "courtesy", "من فضلك"),
    ("ولا يهمك", "courtesy", "ولا يهمك"),
    ("ما عليه", "courtesy", "ما عليه"),
    ("لا ولو", "courtesy", "لا ولو"),
    # empathy
    ("أتفهم شعورك تماماً", "empathy", "أتفهم شعورك"),
    ("أَتَفَهَّمُ شُعُورَكَ", "empathy", "أَتَفَهَّمُ شُعُورَكَ"),
    ("أقدر موقفك", "empathy", "أقدر موقفك"),
    ("معك حق", "empathy", "معك حق"),
    ("من حقك تزعل", "empathy", "من حقك"),
    ("أفهم تماماً", "empathy", "أفهم تماماً"),
    ("فاهم عليك", "empathy", "فاهم عليك"),
    ("بتفهم شعورك", "empathy", "بتفهم شعورك"),
    ("بفهم عليك", "empathy", "بفهم عليك"),
    # apology (seed phrase, shorter variants, inflections, clitics, chat spellings)
    (
        "نود أن نعرب لكم عن خالص أسفنا لمواجهتكم لهذه المشكلة",
        "apology",
        "نود أن نعرب لكم عن خالص أسفنا لمواجهتكم لهذه المشكلة",
    ),
    ("نعرب لكم عن خالص أسفنا", "apology", "نعرب لكم عن خالص أسفنا"),
    ("آسفة على الإزعاج", "apology", "آسفة على الإزعاج"),
    ("وآسف جدا", "apology", "وآسف"),
    ("آسفين على التأخير", "apology", "آسفين على التأخير"),
    ("نحن آسفون", "apology", "آسفون"),
    ("أنا آسفٌ", "apology", "أنا آسفٌ"),
    ("انا اسف", "apology", "انا اسف"),
    ("آســـف", "apology", "آســـف"),
    ("معليش", "apology", "معليش"),
    ("نعتذر عن الإزعاج", "apology", "نعتذر عن الإزعاج"),
    ("بعتذر منك", "apology", "بعتذر منك"),
    ("السموحة", "apology", "السموحة"),
    ("حقك علي والله", "apology", "حقك علي والله"),
    # gratitude
    ("فشكراً لك", "gratitude", "فشكراً لك"),
    ("شُكْرًا", "gratitude", "شُكْرًا"),
    ("شكـــراً", "gratitude", "شكـــراً"),
    ("شكرا لاتصالك", "gratitude", "شكرا لاتصالك"),
    ("شكرا لصبرك", "gratitude", "شكرا لصبرك"),
    ("نشكرك على انتظارك", "gratitude", "نشكرك على انتظارك"),
    ("يعطيك العافية", "gratitude", "يعطيك العافية"),
    ("مشكورة", "gratitude", "مشكورة"),
    ("بشكرك", "gratitude", "بشكرك"),
    ("مرسي كتير", "gratitude", "مرسي كتير"),
    ("مرسي على صبرك", "gratitude", "مرسي على"),
    ("ميرسي", "gratitude", "ميرسي"),
    ("تسلم إيدك", "gratitude", "تسلم إيدك"),
    # ownership
    ("سأتابع بنفسي", "ownership", "سأتابع بنفسي"),
    ("خليني أشوف لك", "ownership", "خليني أشوف لك"),
    ("سأحل لك هذه المشكلة", "ownership", "سأحل لك هذه المشكلة"),
    ("أنا أقوم بواجبي فحسب", "ownership", "أنا أقوم بواجبي فحسب"),
    ("أشوفلك", "ownership", "أشوفلك"),
    ("هشوفلك حالاً", "ownership", "هشوفلك"),
    ("رح شوفلك", "ownership", "رح شوفلك"),
    ("هلأ بشوفلك", "ownership", "بشوفلك"),
    # positive language
    ("بالطبع!", "positive_language", "بالطبع"),
    ("وبالطبع سنساعدك", "positive_language", "وبالطبع"),
    ("فبالطبع", "positive_language", "فبالطبع"),
    ("أبشر", "positive_language", "أبشر"),
    ("تكرم عينك", "positive_language", "تكرم عينك"),
    ("من عيوني", "positive_language", "من عيوني"),
    ("حاضر يا فندم", "positive_language", "حاضر"),
    ("حاضر", "positive_language", "حاضر"),
    ("بالتأكيد", "positive_language", "بالتأكيد"),
    ("تحت أمرك", "positive_language", "تحت أمرك"),
    ("مش مشكلة", "positive_language", "مش مشكلة"),
    ("بناءً على خبرتنا في هذا المجال", "positive_language", "بناءً على خبرتنا في هذا المجال"),
    ("هذا هو الخيار السليم", "positive_language", "هذا هو الخيار السليم"),
    ("كل ما أقوله هو أن السعر تغير", "positive_language", "كل ما أقوله هو أن"),
    # hold etiquette
    (
        "هل تسمح لي أن أضعك على الانتظار؟",
        "hold_etiquette",
        "هل تسمح لي أن أضعك على الانتظار",
    ),
    ("لحظة من فضلك", "hold_etiquette", "لحظة من فضلك"),
    ("لحظة", "hold_etiquette", "لحظة"),
    ("طيب، للحظة", "hold_etiquette", "للحظة"),
    ("دقيقة واحدة", "hold_etiquette", "دقيقة واحدة"),
    ("دقيقة واحدة من فضلك", "hold_etiquette", "دقيقة واحدة"),
    ("عطني دقيقة", "hold_etiquette", "عطني دقيقة"),
    ("دقيقة بس", "hold_etiquette", "دقيقة بس"),
    ("ثواني من فضلك", "hold_etiquette", "ثواني من فضلك"),
    ("شكراً لانتظارك", "hold_etiquette", "شكراً لانتظارك"),
    # closing
    ("هل هناك أي شيء آخر؟", "closing", "هل هناك أي شيء آخر"),
    ("هل هناك اي شي اخر", "closing", "هل هناك اي شي اخر"),
    ("نتمنى لك يوماً سعيداً", "closing", "نتمنى لك يوماً سعيداً"),
    ("في أمان الله", "closing", "في أمان الله"),
    ("مع السلامة", "closing", "مع السلامة"),
    ("مع السلامه", "closing", "مع السلامه"),
    ("في شي ثاني أقدر أساعدك فيه؟", "closing", "في شي ثاني"),
    ("هل تحتاج أي مساعدة أخرى؟", "closing", "هل تحتاج أي مساعدة أخرى"),
    ("بتأمر بشي تاني؟", "closing", "بتأمر بشي تاني"),
    # avoid
    ("هذا مش مشكلتي", "dismissive", "مش مشكلتي"),
    ("مالي دخل", "dismissive", "مالي دخل"),
    ("هذا خطأك", "blame", "هذا خطأك"),
    ("أنت السبب", "blame", "أنت السبب"),
    ("هذي غلطتك", "blame", "هذي غلطتك"),
    ("لا، هذا خطأك", "blame", "هذا خطأك"),  # the comma ends the negation
    ("إنت غلطان", "argue", "إنت غلطان"),
    ("انتي غلطانة", "argue", None),  # not listed: "انتي" is another word
    ("أنت غلطانة", "argue", "أنت غلطانة"),
    ("هذا غير صحيح", "argue", "هذا غير صحيح"),
    ("مستحيل", "argue", "مستحيل"),
    ("ولكن السعر تغير", "negative_language", "ولكن"),
    ("لكن", "negative_language", "لكن"),
    ("بس المشكلة في النظام", "negative_language", "بس المشكلة"),
    ("أتفهم شعورك بس للأسف", "negative_language", "بس للأسف"),
    ("وبس النظام تغير", "negative_language", "وبس النظام"),
    ("للأسف", "negative_language", "للأسف"),
    ("وللأسف", "negative_language", "وللأسف"),
    ("ما فيني", "negative_language", "ما فيني"),
    ("مقدرش", "negative_language", "مقدرش"),
    ("ماقدر", "negative_language", "ماقدر"),
    ("لا أعرف", "uncertainty", "لا أعرف"),
    ("ولا أعرف", "uncertainty", "ولا أعرف"),
    ("مش عارف", "uncertainty", "مش عارف"),
    ("مش عارفة", "uncertainty", "مش عارفة"),
    ("ما بعرف", "uncertainty", "ما بعرف"),
    ("ما أدري", "uncertainty", "ما أدري"),
    ("يمكن بكرة", "uncertainty", "يمكن بكرة"),
    ("يمكن يتأخر الطلب", "uncertainty", "يمكن يتأخر"),
    ("مش أكيد", "uncertainty", "مش أكيد"),
    ("مب متأكد", "uncertainty", "مب متأكد"),
    ("ماني متأكد", "uncertainty", "ماني متأكد"),
    ("مااعرف", "uncertainty", "مااعرف"),
    ("اسكت", "rude", "اسكت"),
    ("مش شغلي", "rude", "مش شغلي"),
    ("مو شغلي", "rude", "مو شغلي"),
]

CUSTOMER_POSITIVE = [
    ("هذا غير مقبول", "customer_frustration", "هذا غير مقبول"),
    ("زهقت", "customer_frustration", "زهقت"),
    ("للمرة الثالثة أتصل", "customer_frustration", "للمرة الثالثة"),
    ("سيء جداً", "customer_frustration", "سيء جداً"),
    ("مش معقول", "customer_frustration", "مش معقول"),
    ("تعبت والله", "customer_frustration", "تعبت"),
    ("أريد التحدث مع المدير", "customer_escalation_request", "أريد التحدث مع المدير"),
    ("أبغى مشرف", "customer_escalation_request", "أبغى مشرف"),
    ("بدي المسؤول", "customer_escalation_request", "بدي المسؤول"),
    ("أريد أن أتحدث مع المدير", "customer_escalation_request", "أريد أن أتحدث مع المدير"),
    ("أبغى أكلم المدير", "customer_escalation_request", "أبغى أكلم المدير"),
    ("عايز أكلم المسؤول", "customer_escalation_request", "عايز أكلم المسؤول"),
    ("بدي اشتكي", "customer_escalation_request", "بدي اشتكي"),
    ("مافي فايدة", "customer_frustration", "مافي فايدة"),
    ("مافيش فايدة", "customer_frustration", "مافيش فايدة"),
    ("زهقانة", "customer_frustration", "زهقانة"),
]

NEGATIVE = [
    ("لبس جديد", "negative_language", "agent"),  # بس inside لبس (preposition + 2 letters)
    ("بسيط جدا", "negative_language", "agent"),
    ("بسبب العطل", "negative_language", "agent"),
    ("يمكنك الدخول على الموقع", "uncertainty", "agent"),  # يمكنك = you can
    ("لست آسفاً", "apology", "agent"),
    ("مش آسف", "apology", "agent"),
    ("للأسف", "apology", "agent"),  # unfortunately is not an apology
    ("مع الأسف", "apology", "agent"),
    ("معك حق", "self_introduction", "agent"),
    ("معك ـــ", "self_introduction", "agent"),  # tatweel alone is no name
    ("معك على الخط", "self_introduction", "agent"),
    ("لا يمكن", "uncertainty", "agent"),  # inside a longer avoid phrase
    ("مش أكيد", "positive_language", "agent"),
    ("شكرا", "gratitude", "customer"),
    ("آسف", "apology", "customer"),
    ("هذا غير مقبول", "customer_frustration", "agent"),
    ("قال «أنت غلطان» أمس", "argue", "agent"),
    ('قال "أنت غلطان" أمس', "argue", "agent"),
    ("السلامة مهمة", "closing", "agent"),
    ("لست متضايق", "customer_frustration", "customer"),
    # blame is negatable: reassurance is not blame
    ("هذا مش غلطتك أبداً", "blame", "agent"),
    ("ليس خطأك", "blame", "agent"),
    ("مو غلطتك", "blame", "agent"),
    # words with a second meaning
    ("هلأ بشوفلك", "greeting", "agent"),  # Levantine "now"
    ("دقيقة بس", "negative_language", "agent"),  # "just"
    ("اتبع الخطوات وبس", "negative_language", "agent"),
    ("خلاص وبس", "negative_language", "agent"),
    ("ولو تأخر الطلب", "courtesy", "agent"),  # "even if"
    ("معك تامر", "positive_language", "agent"),  # a name
    ("في هذه اللحظة", "hold_etiquette", "agent"),  # "at this moment"
    ("خلال ثواني", "hold_etiquette", "agent"),  # "within seconds"
    ("في الوقت الحاضر", "positive_language", "agent"),  # "the present"
    ("لازم تسلم الجهاز", "gratitude", "agent"),  # "hand over"
    ("لازم تسلم يا فندم الجهاز", "gratitude", "agent"),
    # Levantine "هلأ" (now) before words that follow a Gulf "هلا" too
    ("هلأ فيك تدفع اونلاين", "greeting", "agent"),
    ("هلأ كيف بدك تدفع؟", "greeting", "agent"),
    ("هلأ يا أستاذ", "greeting", "agent"),
    ("هلأ معك الموظف المختص", "greeting", "agent"),
    # "مرسى" (a harbour) and the surname "مرسي"
    ("الفرع موجود في مرسى مطروح", "gratitude", "agent"),
    ("معك أحمد مرسي", "gratitude", "agent"),
    # a duration, not a hold
    ("التحويل يتم خلال دقيقة واحدة", "hold_etiquette", "agent"),
    ("يوصلك في غضون دقيقة واحدة", "hold_etiquette", "agent"),
    ("يمكن الدفع بالبطاقة", "uncertainty", "agent"),  # MSA "it is possible to"
    ("حقك على الشركة", "apology", "agent"),
    ("الباقة الممتازة", "positive_language", "agent"),
    ("مسجل باسمي", "self_introduction", "agent"),  # "in my name"
    ("هذا كل شي تحتاجه", "dismissive", "agent"),
    ("معك لحد ما تنحل المشكلة", "self_introduction", "agent"),
    ("أنا معك وبنحلها", "self_introduction", "agent"),
    # negation inside the phrase: "مش مشكلة" is positive, "مش أكيد" is not
    ("مش أكيد", "positive_language", "agent"),
    ("مش مشكلة", "negative_language", "agent"),
]


@pytest.mark.parametrize(("text", "behavior", "expected"), AGENT_POSITIVE)
def test_agent_behaviour(ar: Analyzer, text: str, behavior: str, expected: str | None) -> None:
    found = spans(ar, text, behavior)
    if expected is None:
        assert found == []
    else:
        assert expected in found, (text, flag_text(ar, text))


@pytest.mark.parametrize(("text", "behavior", "expected"), CUSTOMER_POSITIVE)
def test_customer_cue(ar: Analyzer, text: str, behavior: str, expected: str) -> None:
    assert expected in spans(ar, text, behavior, "customer")


@pytest.mark.parametrize(("text", "behavior", "speaker"), NEGATIVE)
def test_not_flagged(ar: Analyzer, text: str, behavior: str, speaker: str) -> None:
    assert spans(ar, text, behavior, speaker) == []


def test_clitic_is_inside_the_span(ar: Analyzer) -> None:
    text = "تمام، وآسفين جداً"
    (f,) = [f for f in flag_text(ar, text) if f.behavior == "apology"]
    assert (f.start, f.end, f.text) == (6, 12, "وآسفين")


def test_diacritics_on_last_letter_are_inside_the_span(ar: Analyzer) -> None:
    text = "شكراً جزيلاً."
    (f,) = [f for f in flag_text(ar, text) if f.behavior == "gratitude"]
    assert f.text == "شكراً جزيلاً"
    assert text[f.end] == "."


def test_direction_marks_are_outside_the_span(ar: Analyzer) -> None:
    text = "أهلاً \u200fآسف\u200f."
    (f,) = [f for f in flag_text(ar, text) if f.behavior == "apology"]
    assert f.text == "آسف"


def test_no_break_space_separates_words(ar: Analyzer) -> None:
    text = "آسف\u00a0على\u00a0الإزعاج"
    (f,) = [f for f in flag_text(ar, text) if f.behavior == "apology"]
    assert (f.start, f.end) == (0, len(text))


def test_punctuation_glued_to_next_word(ar: Analyzer) -> None:
    text = "تمام،شكرا؟مع السلامة"
    got = {f.behavior: f.text for f in flag_text(ar, text)}
    assert got["gratitude"] == "شكرا"
    assert got["closing"] == "مع السلامة"


def test_mixed_arabic_english(ar: Analyzer) -> None:
    text = "Order #4821: وآسف على التأخير, thanks"
    flags = flag_text(ar, text)
    assert ("apology", "وآسف على التأخير") in {(f.behavior, f.text) for f in flags}


def test_arabic_indic_digits_do_not_break_matching(ar: Analyzer) -> None:
    text = "طلبك رقم ١٢٣ وبالطبع سأتابع بنفسي"
    behaviours = {f.behavior for f in flag_text(ar, text)}
    assert {"positive_language", "ownership"} <= behaviours


def test_seed_but_rule_suggests_the_seed_phrase(ar: Analyzer) -> None:
    (f,) = [f for f in flag_text(ar, "ولكن هذا هو النظام") if f.behavior == "negative_language"]
    assert f.severity == "low"
    assert f.suggestion == "كل ما أقوله هو أن"
    assert "ولكن" in (f.coaching_tip or "")
