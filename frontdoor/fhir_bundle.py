"""The joined-up view of a resident as a FHIR R4B Bundle (DESIGN §9), built from the view document alone.

Patient (with the NHS number under the NHS system URI), an Organization per team involved, a Communication per
contact, a ServiceRequest per referral, a CareTeam for the care coordinator, a Consent for the decision in force
and a Flag per duplicate-work flag. Validated with `fhir.resources.R4B` before it leaves: an invalid Bundle is a
bug here, not something to send. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from fhir.resources.R4B.bundle import Bundle

from frontdoor.teams import TeamDirectory

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
TEAM_SYSTEM = "urn:frontdoor:team-id"
NEED_SYSTEM = "urn:frontdoor:need"
RULE_SYSTEM = "urn:frontdoor:duplicate-work-rule"
PRIORITY = {"routine": "routine", "soon": "urgent", "urgent": "asap"}
REFERRAL_STATUS = {"made": "active", "accepted": "active", "completed": "completed", "declined": "revoked",
                   "withdrawn": "revoked"}
CONSENT_STATUS = {"granted": "active", "refused": "rejected", "withdrawn": "inactive"}
_NOT_FHIR_ID = re.compile(r"[^A-Za-z0-9.\-]")

Resource = dict[str, Any]


def fhir_id(raw: str) -> str:
    """FHIR ids are [A-Za-z0-9-.]{1,64}: our uuids already are; a team id may hold `_` or `:`."""
    return _NOT_FHIR_ID.sub("-", raw)[:64]


def resident_bundle(doc: dict[str, Any], teams: TeamDirectory) -> dict[str, Any]:
    patient_ref = {"reference": f"Patient/{fhir_id(doc['resident_id'])}"}
    resources: list[Resource] = [patient(doc)]
    resources += [organisation(team, teams) for team in _teams_named(doc)]
    resources += [communication(c, patient_ref) for c in doc.get("contacts", [])]
    resources += [service_request(r, patient_ref) for r in doc.get("referrals", [])]
    if doc.get("care_coordinator"):
        resources.append(care_team(doc["resident_id"], doc["care_coordinator"], patient_ref))
    if doc.get("consent"):
        resources.append(consent(doc["resident_id"], doc["consent"], patient_ref))
    resources += [flag(f, patient_ref) for f in doc.get("open_flags", []) + doc.get("resolved_flags", [])]
    bundle = Bundle.model_validate({
        "resourceType": "Bundle", "type": "collection",
        "entry": [{"fullUrl": f"urn:frontdoor:{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    })
    loaded: dict[str, Any] = orjson.loads(bundle.model_dump_json(exclude_none=True))
    return loaded


def _teams_named(doc: dict[str, Any]) -> list[str]:
    named = set(doc.get("teams_involved", []))
    for referral in doc.get("referrals", []):
        named.update(t for t in (referral.get("from_team"), referral.get("to_team")) if t)
    if doc.get("care_coordinator"):
        named.add(doc["care_coordinator"]["team_id"])
    return sorted(named)


def _team_ref(team_id: str) -> dict[str, str]:
    return {"reference": f"Organization/{fhir_id(team_id)}"}


def patient(doc: dict[str, Any]) -> Resource:
    d = doc.get("details") or {}
    resource: Resource = {"resourceType": "Patient", "id": fhir_id(doc["resident_id"]), "active": True}
    if d.get("nhs_number"):
        resource["identifier"] = [{"system": NHS_NUMBER_SYSTEM, "value": d["nhs_number"]}]
    if d.get("family_name") or d.get("given_name"):
        resource["name"] = [{"use": "official", "family": d.get("family_name"), "given": [d.get("given_name")]}]
    if d.get("date_of_birth"):
        resource["birthDate"] = d["date_of_birth"]
    if d.get("postcode"):
        resource["address"] = [{"use": "home", "postalCode": d["postcode"]}]
    if d.get("gp_practice"):
        resource["generalPractitioner"] = [{"display": d["gp_practice"]}]
    if doc.get("linked_residents"):
        resource["link"] = [{"other": {"reference": f"Patient/{fhir_id(other)}"}, "type": "seealso"}
                            for other in doc["linked_residents"]]
    return resource


def organisation(team_id: str, teams: TeamDirectory) -> Resource:
    team = teams.get(team_id)
    resource: Resource = {"resourceType": "Organization", "id": fhir_id(team_id), "active": True,
                          "identifier": [{"system": TEAM_SYSTEM, "value": team_id}], "name": team_id}
    if team is not None:
        resource["name"] = team.name
        resource["partOf"] = {"display": team.organisation}
        resource["type"] = [{"text": team.sector}]
    return resource


def communication(contact: dict[str, Any], patient_ref: dict[str, str]) -> Resource:
    caller = contact.get("caller") or {}
    resource: Resource = {
        "resourceType": "Communication", "id": fhir_id(contact["contact_id"]), "status": "completed",
        "subject": patient_ref, "sent": contact["at"], "medium": [{"text": contact["channel"]}],
        "priority": PRIORITY.get(contact.get("urgency", "routine"), "routine"),
        "topic": {"text": contact["outcome"]},
        "reasonCode": [{"coding": [{"system": NEED_SYSTEM, "code": need}], "text": need}
                       for need in contact.get("needs", [])],
        "sender": {"display": caller.get("relationship", "unknown")},
    }
    if contact.get("safeguarding"):
        resource["category"] = [{"text": "safeguarding"}]
    if contact.get("summary"):
        resource["payload"] = [{"contentString": contact["summary"]}]
    return resource


def service_request(referral: dict[str, Any], patient_ref: dict[str, str]) -> Resource:
    resource: Resource = {
        "resourceType": "ServiceRequest", "id": fhir_id(referral["referral_id"]),
        "status": REFERRAL_STATUS.get(referral["status"], "unknown"), "intent": "order",
        "priority": PRIORITY.get(referral.get("urgency", "routine"), "routine"),
        "code": {"coding": [{"system": NEED_SYSTEM, "code": referral["need"]}], "text": referral["need"]},
        "subject": patient_ref, "authoredOn": referral["made_at"], "performer": [_team_ref(referral["to_team"])],
        "note": [{"time": h["at"], "text": _step_text(h)} for h in referral.get("history", [])],
    }
    if referral.get("from_team"):
        resource["requester"] = _team_ref(referral["from_team"])
    if referral.get("reason"):
        resource["reasonCode"] = [{"text": referral["reason"]}]
    if referral.get("contact_id"):
        resource["supportingInfo"] = [{"reference": f"Communication/{fhir_id(referral['contact_id'])}"}]
    return resource


def _step_text(step: dict[str, Any]) -> str:
    text = f"{step['step']} ({step.get('team')}"
    text += f" to {step['to_team']})" if step.get("to_team") else ")"
    return text + (f": {step['note']}" if step.get("note") else "")


def care_team(resident_id: str, coordinator: dict[str, Any], patient_ref: dict[str, str]) -> Resource:
    return {"resourceType": "CareTeam", "id": fhir_id(f"coordinator-{resident_id}"), "status": "active",
            "subject": patient_ref, "period": {"start": coordinator["since"]}, "name": "Care coordination",
            "participant": [{"role": [{"text": "care coordinator"}], "member": {"display": coordinator["worker"]},
                             "onBehalfOf": _team_ref(coordinator["team_id"])}],
            "managingOrganization": [_team_ref(coordinator["team_id"])]}


def consent(resident_id: str, decision: dict[str, Any], patient_ref: dict[str, str]) -> Resource:
    scope = decision.get("scope") or ["all_partners"]
    return {
        "resourceType": "Consent", "id": fhir_id(f"consent-{resident_id}"),
        "status": CONSENT_STATUS.get(decision["decision"], "proposed"),
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}], "text": "Patient consent"}],
        "patient": patient_ref, "dateTime": decision["at"],
        "policyRule": {"text": decision.get("basis") or "explicit"},
        "provision": {"type": "permit" if decision["decision"] == "granted" else "deny",
                      "actor": [{"role": {"text": "sharing with"}, "reference": {"display": item}} for item in scope]},
    }


def flag(item: dict[str, Any], patient_ref: dict[str, str]) -> Resource:
    period = {"start": item["raised_at"]} | ({"end": item["resolved_at"]} if item.get("resolved_at") else {})
    return {"resourceType": "Flag", "id": fhir_id(item["flag_id"]),
            "status": "active" if item.get("status") == "open" else "inactive",
            "category": [{"text": f"duplicate work ({item['severity']})"}],
            "code": {"coding": [{"system": RULE_SYSTEM, "code": item["rule"]}], "text": item["explanation"]},
            "subject": patient_ref, "period": period}
