"""What people say in the synthetic city: contact summaries, reasons and outcomes, per need and per step.
Plain data; the story picks from it with its own seeded generator."""

from __future__ import annotations

from events.vocabulary import AssessmentKind, Channel, Need

SUMMARIES: dict[Need, tuple[str, ...]] = {
    "personal care": ("Struggling to wash and dress since coming home from hospital.",
                      "Needs help getting up in the mornings; daughter can no longer manage it."),
    "mobility and falls": ("Fell in the kitchen on Tuesday; bruised, managing, but frightened of another fall.",
                           "Unsteady on the stairs, two near-falls this month."),
    "long-term condition": ("Heart failure: ankles swelling again and more breathless at night.",
                            "Diabetic, leg ulcer not healing; asks who is dressing it now."),
    "mental health": ("Low mood since bereavement, not eating well.", "Anxious, not leaving the house."),
    "memory and cognition": ("Getting lost on the way to the shops; family worried about memory.",
                             "Left the gas on twice this week."),
    "housing": ("Damp flat, heating broken, landlord not responding.", "Cannot manage the stairs to the flat."),
    "carer support": ("Wife is the main carer and is exhausted; asks about a break.",
                      "Son caring alone after work, not coping."),
    "social isolation": ("Lives alone, no visitors since the winter.", "Would like company; lonely at weekends."),
    "finance and benefits": ("Bills piling up; not sure what benefits apply.", "Asks about Attendance Allowance."),
    "safeguarding": ("Neighbour worried someone is taking money from her.", "Bruising noticed by the carer."),
}
AGAIN = ("Calling again about the same thing; nobody has been in touch.",
         "Told the whole story again to someone new.", "Still waiting; asks who is dealing with it.")
CHASING = "Chasing the referral already made; asks when someone will visit."
REASONS: dict[Need, str] = {need: f"Referred by the front door for {need}." for need in SUMMARIES}
CALLERS: tuple[tuple[str, Channel, bool], ...] = (
    # relationship, channel, whether the caller is a professional (then the GP practice is the organisation)
    ("self", "phone", False), ("self", "phone", False), ("self", "web", False), ("daughter", "phone", False),
    ("son", "phone", False), ("wife", "phone", False), ("husband", "phone", False), ("neighbour", "walk_in", False),
    ("GP", "professional", True), ("district nurse", "professional", True), ("pharmacist", "email", True),
)
RELATIVE_NAMES = ("Karen", "Julie", "Paul", "Mark", "Tracey", "Andrew", "Sarah", "Stephen", "Claire", "Gary")
DECLINES = ("Outside our criteria; better met by another service.", "No capacity this month; please refer on.",
            "Resident declined the visit.")
COMPLETIONS = ("Goals met; discharged with advice.", "Equipment fitted and working; case closed.",
               "Care package in place; handed back to the GP.", "Settled; no further input needed.")
HANDOFFS = ("Needs a specialist assessment we do not provide.", "Better placed with the locality team.",
            "Moved into another team's area.")
HAND_BACK = "Not for us after all; returning to the referring team."
ASSESSMENT_OUTCOMES = ("Needs identified; plan agreed.", "No eligible needs; advice given.",
                       "Equipment recommended.", "Review in three months.")
WITHDRAWALS = ("Resident feels better; no longer wanted.", "Admitted to hospital.")
# Which assessments each kind of team starts, by the team id's prefix in the default directory.
TEAM_KINDS: dict[str, tuple[AssessmentKind, ...]] = {
    "dn": ("falls", "care needs"), "ot": ("OT", "falls"), "mh": ("mental health",), "asc": ("care needs", "carer's"),
    "reab": ("OT", "falls"), "housing": ("housing",), "carers": ("carer's",), "ageuk": (),
}
WORKERS = ("Sam Patel", "Jo Green", "Alex Morgan", "Chris Okafor", "Ruth Ellis", "Priya Shah", "Tom Hughes",
           "Nadia Kowalski", "Ben Carter", "Helen Moss", "Dan Reid", "Grace Boateng")


def team_kinds(team_id: str) -> tuple[AssessmentKind, ...]:
    return TEAM_KINDS.get(team_id.split("-")[0], ())
