"""Sentence segmentation: documents in, sentence rows with offsets, paragraph and speaker out.

Sentence boundaries come from ``sentencex`` (Wikimedia's rule-based segmenter, compiled,
~300 languages). We add only what it does not do: joining hard-wrapped lines, splitting
several sentences inside one quotation, numbered-list items, page furniture and the
speaker of each sentence. Offsets always point into the original text.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

import sentencex

# ---------------------------------------------------------------- boundaries

_LIST_MARKER = re.compile(r"^\W?(?:\d{1,3}|[a-z])\.$")
_LIST_START = re.compile(r"^(\W?)(\d{1,3}|[a-z])\.\s")
_QUOTE_SPAN = re.compile(r"[\"“]([^\"“”]{2,})[\"”]?")


def _raw_spans(text: str, language: str) -> list[tuple[int, int]]:
    """Spans of the sentences sentencex finds, located in ``text`` (whitespace trimmed)."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in sentencex.segment(language, text):
        piece = piece.strip()
        if not piece:
            continue
        start = text.find(piece, cursor)
        if start < 0:  # sentencex never rewrites text, but never lose characters if it did
            break
        spans.append((start, start + len(piece)))
        cursor = start + len(piece)
    rest = text[cursor:]
    if rest.strip():
        lead = len(rest) - len(rest.lstrip())
        spans.append((cursor + lead, cursor + len(rest.rstrip())))
    return spans


def _merge_bare_markers(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    pending: int | None = None
    for start, end in spans:
        if pending is not None:
            start, pending = pending, None
        if _LIST_MARKER.match(text[start:end]):
            pending = start
            continue
        merged.append((start, end))
    if pending is not None:
        merged.append((pending, len(text.rstrip())))
    return merged


def _split_list_items(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge bare list markers ("1.") into their item; split inline runs of items."""
    out: list[tuple[int, int]] = []
    for start, end in _merge_bare_markers(text, spans):
        sentence = text[start:end]
        first = _LIST_START.match(sentence)
        if not first:
            out.append((start, end))
            continue
        lead, marker = first.group(1), first.group(2)
        kind = r"\d{1,3}" if marker.isdigit() else r"[a-z]"
        cuts = [m.start() + 1 for m in re.finditer(r"\s" + re.escape(lead) + kind + r"\.(?=\s|$)", sentence)]
        out.extend(_cut(start, sentence, cuts))
    return _merge_bare_markers(text, out)


def _cut(start: int, sentence: str, cuts: list[int]) -> list[tuple[int, int]]:
    """Spans of ``sentence`` (at ``start``) cut at ``cuts``, each piece trimmed."""
    bounds = [0, *sorted(cuts), len(sentence)]
    pieces = []
    for a, b in zip(bounds, bounds[1:]):
        piece = sentence[a:b]
        if piece.strip():
            lstrip = len(piece) - len(piece.lstrip())
            pieces.append((start + a + lstrip, start + a + len(piece.rstrip())))
    return pieces


def _split_inside_quotes(text: str, spans: list[tuple[int, int]], language: str) -> list[tuple[int, int]]:
    """sentencex keeps a quotation whole; a quote of several sentences becomes several rows."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        sentence = text[start:end]
        cuts: list[int] = []
        for quote in _QUOTE_SPAN.finditer(sentence):
            inner_start = quote.start(1)
            inner = quote.group(1)
            inner_spans = _raw_spans(inner, language)
            cuts.extend(inner_start + s for s, _ in inner_spans[1:])
        out.extend(_cut(start, sentence, cuts))
    return out


def sentence_spans(text: str, language: str = "en") -> list[tuple[int, int]]:
    """Character spans of the sentences of one paragraph of running text."""
    spans = _raw_spans(text, language)
    spans = _split_list_items(text, spans)
    spans = _merge_attribution_tails(text, spans)
    return _split_inside_quotes(text, spans, language)


def split_sentences(text: str, language: str = "en") -> list[str]:
    """The sentences of ``text`` as strings (the golden-rule test and the benchmark use this)."""
    return [text[s:e] for s, e in sentence_spans(text, language)]


# ---------------------------------------------------------------- furniture

#: Whole lines that are page furniture, not statements. Extend through Config.furniture.
DEFAULT_FURNITURE: dict[str, str] = {
    r"(?:[•·\-–]\s*)?(?:[a-z]{2}-[A-Z]{2}\d*\s*){2,}": "language selector",
    r"Advanced settings|ADVERTISEMENT|All news|Asset Publisher|Print version|Share|Read more": "page menu",
    r"Russian Politics & Diplomacy|World|Politics|Economy|Society|Military & Defense|Sport": "section label",
    r"\d{1,2} [A-Z][a-z]+ \d{4}\s*\d{1,2}:\d{2}": "timestamp",
    r"[A-Z][a-z]+ \d{1,2}, (?:\d{4}, )?\d{1,2}:\d{2}(?: UTC[+-]\d{1,2})?(?: [A-Z][A-Z .,'-]+)?": "timestamp",
    r"(?:\d{1,2} [A-Z][a-z]+|[A-Z][a-z]+ \d{1,2},) \d{4}": "date line",
    r"\d{1,2}:\d{2}(?::\d{2})?": "timestamp",
    r"\d{1,4}": "page number",
    # UN document page headers: "15-29876 7/26", "8/26 15-29876", "A/70/PV.24 01/10/2015"
    r"\d{2}-\d{5}(?: \d{1,3}/\d{1,3})?|\d{1,3}/\d{1,3} \d{2}-\d{5}": "page header",
    r"A/\d{2,3}/PV\.\d+(?: \d{2}/\d{2}/\d{4})?|\d{2}/\d{2}/\d{4} A/\d{2,3}/PV\.\d+": "page header",
}
#: furniture that can fall inside a sentence at a page break; the sentence runs on across it
_PAGE_BREAK = ("page number", "page header")

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
#: Sentence-level furniture inside news text: "HO CHI MINH CITY, February 25." and "/TASS/."
_DATELINE = re.compile(rf"^[A-Z][A-Z .'\-]{{2,}}, (?:{_MONTHS}) \d{{1,2}}\.?$")
_AGENCY = re.compile(r"^/([A-Za-z\-]{2,12})/\.?$")
#: "/TASS/" on its own; not a part of a document symbol ("A/HRC/12/48", "S/PRST/2012/20", "SG/SM/1234")
_AGENCY_TAG = re.compile(r"(?<![\w/])/([A-Z][A-Za-z\-]{1,11})/(?![\w/])")


def compile_furniture(patterns: dict[str, str]) -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(rf"\s*(?:{p})\s*"), reason) for p, reason in patterns.items()]


def furniture_reason(line: str, furniture: list[tuple[re.Pattern[str], str]]) -> str:
    """Why a whole line is page furniture, or "" when it is content."""
    for pattern, reason in furniture:
        if pattern.fullmatch(line):
            return reason
    return ""


# ---------------------------------------------------------------- blocks (paragraphs)

_TERMINAL = tuple('.!?:;…"”’)]')
_TURN = re.compile(r"\s*((?:Question|Answer|Q|A)|(?:[A-Z][\w'’.\-]*\s){1,3}[A-Z][\w'’.\-]+)\s*:\s+(?=[\"“‘(\[]?[A-Z0-9])")
_QUESTION_LABELS = ("Question", "Answer", "Q", "A")


_FURNITURE = compile_furniture(DEFAULT_FURNITURE)
#: a form of address ("Mr. President:", "Again Mr. President:", "Excellencies:") is not a speaker
_ADDRESS = re.compile(r"\b(?:Mr|Mrs|Ms|Madam|Madame|Sir|Your|His|Her|Excellenc\w*|Majesty|Highness)\b")


def turn_labels(text: str) -> set[str]:
    """Speaker labels ("Question:", "Sergey Lavrov:") at line starts, if the text shows real turns:
    a question turn, or named turns that alternate (a speaker comes back after another), or a
    speaker label that opens the text (an answer given alone, after at most a title). Otherwise
    the text is one speaker's, and a line such as "Climate Change: ..." is a heading, not a turn."""
    found = list(re.finditer(r"(?m)^" + _TURN.pattern, text))
    labels = [m.group(1).strip() for m in found]
    if set(labels) & set(_QUESTION_LABELS):
        return set(labels)
    named = [(m, label) for m, label in zip(found, labels) if not _ADDRESS.search(label)]
    if not named:
        return set()
    order = [label for _, label in named]
    changes = [label for i, label in enumerate(order) if i == 0 or label != order[i - 1]]
    alternating = len(changes) > len(set(changes))  # a speaker takes the floor again after another
    before = text[: named[0][0].start()]
    opens = sum(1 for line in before.splitlines() if line.strip() and not furniture_reason(line, _FURNITURE)) <= 1
    return set(order) if alternating or opens else set()
_LINE = re.compile(r"[^\n]*\n?")


@dataclass
class Block:
    """A paragraph: a span of the text, or a furniture line."""

    start: int
    end: int
    furniture: str = ""
    lines: list[tuple[int, int]] = field(default_factory=list)
    #: page-break furniture inside the paragraph, blanked when the sentences are read
    skipped: list[tuple[int, int]] = field(default_factory=list)


def _lines(text: str) -> list[tuple[int, int]]:
    """Spans of the non-blank lines, trimmed."""
    out = []
    for m in _LINE.finditer(text):
        line = m.group()
        if line.strip():
            lead = len(line) - len(line.lstrip())
            out.append((m.start() + lead, m.start() + len(line.rstrip())))
    return out


def is_hard_wrapped(lines: list[str]) -> bool:
    """A text broken inside sentences, every ~50 characters (most UN speeches of 2000-2014) or
    every 100 to 140 (some of 2024); a text of one paragraph a line has long lines, most ending a
    sentence."""
    long_enough = [ln for ln in lines if len(ln) > 20]
    if len(long_enough) < 10:
        return False
    open_ended = sum(not ln.endswith(_TERMINAL) for ln in long_enough)
    return statistics.median(len(ln) for ln in long_enough) <= 150 and open_ended >= 0.5 * len(long_enough)


# words a sentence never ends on, and a word broken at its hyphen: a line ending in one breaks
# inside a sentence, whatever the next line starts with ("safeguard peace on the" / "Peninsula.",
# "I commend the Secretary-" / "General for his efforts")
_MID_CLAUSE = re.compile(r"(?:(?:^|\s)(?:the|a|an|of|to|and|or|on|in|for|with|by|from|at|as|into|between|its|their|our|his|her|whose)|\w-)$")


def _ends_mid_clause(line: str) -> bool:
    return bool(_MID_CLAUSE.search(line))


def _starts_upper(line: str) -> bool:
    c = line.lstrip("\"“'‘(•–-— ")[:1]
    return c.isupper() or c.isdigit()


def paragraph_blocks(text: str, furniture: list[tuple[re.Pattern[str], str]]) -> list[Block]:
    """Paragraphs of a document; in hard-wrapped text, lines broken inside a sentence are joined."""
    spans = _lines(text)
    lines = [text[s:e] for s, e in spans]
    reasons = [furniture_reason(ln, furniture) for ln in lines]
    wrapped = is_hard_wrapped(lines)
    turns = turn_labels(text)
    width = statistics.median(len(ln) for ln in lines) if lines else 0
    blocks: list[Block] = []
    prev = -1
    for i, (span, line, reason) in enumerate(zip(spans, lines, reasons)):
        if reason in _PAGE_BREAK and blocks and not blocks[-1].furniture and _inside_sentence(lines, reasons, i, prev):
            blocks[-1].skipped.append(span)  # a page break inside a sentence: it runs on
            continue
        if (prev >= 0 and not wrapped and not reason and not reasons[prev] and not lines[prev].endswith(_TERMINAL)
                and (line[:1].islower() or _ends_mid_clause(lines[prev]))):
            _absorb_skipped(blocks[-1], span)  # a stray line break inside a sentence
            blocks[-1].lines.append(span)
            prev = i
            continue
        if prev >= 0 and wrapped and not reason and not reasons[prev]:
            before = lines[prev]
            blank = "\n" in text[spans[prev][1] : span[0]].replace("\n", "", 1) or _gap_has_page(text, spans[prev][1], span[0])
            short = len(before) < 0.7 * width
            hard = (
                bool(turns and (m := _TURN.match(line)) and m.group(1).strip() in turns)
                or (short and _starts_upper(line) and not _ends_mid_clause(before))
                or (blank and before.endswith(_TERMINAL) and _starts_upper(line))
            )
            if not hard:
                _absorb_skipped(blocks[-1], span)
                blocks[-1].lines.append(span)
                prev = i
                continue
        if blocks and blocks[-1].skipped and blocks[-1].skipped[-1][0] > blocks[-1].end:
            # the sentence did not run on after all: the page-break lines are furniture rows
            for skipped in [x for x in blocks[-1].skipped if x[0] > blocks[-1].end]:
                blocks[-1].skipped.remove(skipped)
                blocks.append(Block(skipped[0], skipped[1], furniture_reason(text[skipped[0]:skipped[1]], furniture), [skipped]))
        blocks.append(Block(span[0], span[1], reason, [span]))
        prev = i
    return blocks


def _inside_sentence(lines: list[str], reasons: list[str], i: int, prev: int) -> bool:
    """Whether furniture line ``i`` interrupts a sentence: the text before it is unfinished
    and the next content line goes on in lower case."""
    if prev < 0 or lines[prev].endswith(_TERMINAL):
        return False
    following = next((j for j in range(i + 1, len(lines)) if reasons[j] not in _PAGE_BREAK), None)
    return following is not None and not reasons[following] and lines[following][:1].islower()


def _absorb_skipped(block: Block, span: tuple[int, int]) -> None:
    block.end = span[1]
    block.lines.append(span)


def _gap_has_page(text: str, a: int, b: int) -> bool:
    return bool(re.search(r"\n\s*\d{1,4}\s*\n", text[a:b]))


# ---------------------------------------------------------------- speakers

QUESTIONER = "questioner"
NARRATOR = "narrator"

_VERBS = (
    r"said|says|added|adds|noted|notes|emphasi[sz]ed|stressed|pointed out|resumed|stated|states|"
    r"warned|warns|urged|urges|called on|calls on|called for|calls for|told|explained|insisted|"
    r"declared|remarked|continued|recalled|believes|argued|argues|underlined|assured|admitted|"
    r"complained|went on|concluded|announced"
)
_ROLE_NOUN = r"minister|diplomat|spokes(?:man|woman|person)|president|official|ambassador|envoy|chief|secretary|leader"
_NAME = r"(?:[A-Z][\w'’\-]*\s){0,5}[A-Z][\w'’\-]+"
_REF = rf"(?:he|she|[Tt]he(?:\s[\w'’\-]+){{0,3}}\s(?:{_ROLE_NOUN})|[A-Z][\w'’]*\s(?:top\s)?(?:{_ROLE_NOUN})|{_NAME})"
_ATTRIBUTION = re.compile(rf"(?:^|[,.!?]\s*[\"”’]?\s*|[\"”]\s*)({_REF})\s(?:also\s|then\s|later\s|further\s)?(?:{_VERBS})\b")
_LEADING = re.compile(rf"^[\"“]?({_REF})\s(?:also\s|then\s|later\s|further\s)?(?:{_VERBS})\b")
_PERSON = re.compile(r"(?=\b([A-Z][a-z]+(?:-[A-Z][a-z]+)?) ([A-Z][a-z]+(?:-[A-Z][a-z]+)?)\b)")


_TAIL = re.compile(rf"(?:{_REF})\s(?:also\s|then\s)?(?:{_VERBS})\b[^\"“”]*")


def _merge_attribution_tails(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """'"Why not?" Lavrov said.' is one sentence: the tail after a closing quote joins it."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out and text[out[-1][1] - 1] in "\"”" and _TAIL.fullmatch(text[start:end]):
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _speaker_from_ref(ref: str, main: str, last: str) -> str:
    """Who a reference ("he", "the minister", "Lavrov", "Foreign Minister Sergey Lavrov") means."""
    words = ref.split()
    if words[0].lower() in ("he", "she", "the") or words[-1].lower() in _ROLE_NOUN.split("|"):
        return last
    if main and words[-1] == main.split()[-1]:
        return main
    names = [w for w in words if w not in ("Foreign", "Minister", "Russian", "US", "Secretary", "State", "of", "President")]
    return " ".join(names[-2:]) if names else last


AUTHOR = "(author)"


#: a quotation, running to its closing mark or to the end of its paragraph (news style)
_QUOTED = re.compile(r"[\"“][^\"“”]*(?:[\"”]|\n\s*\n|$)")
_FIRST_PERSON = re.compile(r"\b(?:I|[Ww]e|us|[Oo]ur|[Mm]y)\b")


def first_person_share(text: str) -> float:
    """First-person words (I, we, our...) per sentence outside quotations: most sentences of a
    speech have one (UN speeches: never below 0.07); an agency's narration has almost none."""
    unquoted = _QUOTED.sub(" ", text)
    sentences = max(1, len(re.findall(r"[.!?][\"”’)]?\s", unquoted)))
    return len(_FIRST_PERSON.findall(unquoted)) / sentences


def is_news_report(text: str) -> bool:
    """A news report (an agency's narration quoting people), as opposed to a statement or speech
    in the author's own words: it carries an agency tag ("/TASS/"), or attributions ("..., Lavrov
    said") are frequent and the narration does not speak in the first person (a speaker saying
    "Europe says to Africa..." or "as the Secretary-General said" is still giving a speech)."""
    if _AGENCY_TAG.search(text):
        return True
    attributions = sum(1 for _ in _ATTRIBUTION.finditer(text))
    sentences = max(1, len(re.findall(r"[.!?][\"”’)]?\s", text)))
    return attributions >= 3 and attributions >= 0.1 * sentences and first_person_share(text) < 0.05


def main_speaker_of(text: str) -> str:
    """The document's main speaker when metadata names none: the most frequent turn owner,
    else the most frequently named person who is reported as speaking."""
    labels = turn_labels(text)
    turns = [m.group(1).strip() for m in re.finditer(r"(?m)^" + _TURN.pattern, text)]
    turns = [t for t in turns if t in labels and t not in _QUESTION_LABELS]
    if turns:
        return max(sorted(set(turns)), key=turns.count)  # sorted: ties break the same way in every process
    surnames: dict[str, str] = {}
    for first, last in _PERSON.findall(text):
        surnames.setdefault(last, f"{first} {last}")
    speaking = [m.group(1).split()[-1] for m in _ATTRIBUTION.finditer(text)] + [
        m.group(1).split()[-1] for m in re.finditer(rf"({_NAME})\s(?:{_VERBS})\b", text)
    ]
    speaking = [s for s in speaking if s in surnames]
    if not speaking:
        return ""
    best = max(sorted(set(speaking)), key=lambda s: (speaking.count(s), text.count(s)))
    return surnames[best]


def _quote_depth_changes(sentence: str) -> tuple[int, int]:
    """(curly quotes opened minus closed, straight quotes seen): straight quotes toggle."""
    return sentence.count("“") - sentence.count("”"), sentence.count('"')


def _normalise(text: str) -> str:
    return " ".join(text.split())


def segment_document(
    doc_id: str,
    text: str,
    main_speaker: str = "",
    narrator: str = "",
    furniture: list[tuple[re.Pattern[str], str]] | None = None,
    language: str = "en",
) -> list[dict]:
    """Sentence rows of one document, every non-space character in exactly one row."""
    furniture = compile_furniture(DEFAULT_FURNITURE) if furniture is None else furniture
    turns = turn_labels(text)
    # a statement or speech (no turns, not a news report) is all in its author's own words
    statement = not turns and not is_news_report(text)
    main = main_speaker or (AUTHOR if statement else main_speaker_of(text))
    agency = _AGENCY_TAG.search(text)
    narrator = narrator or (agency.group(1) if agency else NARRATOR)
    rows: list[dict] = []
    turn_owner: str | None = None
    last_named = main or narrator
    quote_speaker = main or narrator

    def add(start: int, end: int, paragraph: int, speaker: str, reason: str = "", shown: str | None = None) -> None:
        role = "furniture" if reason else (
            "main" if speaker == main and main else
            "question" if speaker == QUESTIONER else
            "narration" if speaker == narrator else "other")
        rows.append({
            "doc_id": doc_id, "sentence_id": len(rows), "start": start, "end": end,
            "paragraph": paragraph, "text": _normalise(text[start:end] if shown is None else shown), "speaker": speaker,
            "role": role, "is_furniture": bool(reason), "furniture_reason": reason,
        })

    for paragraph, block in enumerate(paragraph_blocks(text, furniture)):
        if block.furniture:
            add(block.start, block.end, paragraph, "", block.furniture)
            continue
        body_start = block.start
        turn = _TURN.match(text, block.start, block.end)
        if turn and turn.group(1).strip() in turns:
            owner = turn.group(1).strip()
            turn_owner = QUESTIONER if owner in ("Question", "Q") else (main if main and owner.split()[-1] == main.split()[-1] else owner)
            label_end = text.index(":", turn.start(1)) + 1
            add(block.start, label_end, paragraph, turn_owner, "speaker label")
            body_start = label_end
        view = _paragraph_view(text, body_start, block.end, block.skipped)
        spans = sentence_spans(view, language)
        if turn_owner is not None or statement:
            for s, e in spans:
                add(body_start + s, body_start + e, paragraph, turn_owner if turn_owner is not None else main, shown=view[s:e])
            continue
        # news text: quoted and paraphrased statements belong to the person quoted
        attributed = _ATTRIBUTION.search(view) or _LEADING.search(view)
        if attributed:
            quote_speaker = _speaker_from_ref(attributed.group(1), main, last_named)
        curly, straight = 0, 0
        for s, e in spans:
            sentence = view[s:e]
            inside = curly > 0 or straight % 2 == 1
            dc, ds = _quote_depth_changes(sentence)
            curly, straight = max(curly + dc, 0), straight + ds
            if _DATELINE.match(sentence):
                add(body_start + s, body_start + e, paragraph, "", "dateline")
                continue
            if _AGENCY.match(sentence):
                add(body_start + s, body_start + e, paragraph, "", "agency tag")
                continue
            own = _ATTRIBUTION.search(sentence) or _LEADING.search(sentence)
            if inside or dc or ds:
                speaker = _speaker_from_ref(own.group(1), main, last_named) if own else quote_speaker
            elif own:
                speaker = _speaker_from_ref(own.group(1), main, last_named)
            else:
                speaker = narrator
            if speaker not in (narrator, QUESTIONER):
                last_named = speaker
            add(body_start + s, body_start + e, paragraph, speaker, shown=sentence)
    return rows


def _paragraph_view(text: str, start: int, end: int, skipped: list[tuple[int, int]]) -> str:
    """The paragraph as one line (same length, so offsets hold), page-break furniture blanked."""
    chars = list(text[start:end])
    for a, b in skipped:
        chars[a - start : b - start] = " " * (b - a)
    return "".join(chars).replace("\r", " ").replace("\n", " ")
