"""The public form of a record's data (DOMAIN §8): what the portal and the outcome topic may show.

Deny by default: a value is shown only when the catalogue classes its path ``public`` (in clear) or
``masked`` (masked here); ``shared`` and ``restricted`` values and every path the catalogue does not
class are left out. Nested paths follow the catalogue (``informant.name``, ``related_persons[].id_number``);
an object or array that has nothing public left is left out as a whole.

How a ``masked`` value is masked:
- an ID number (the second field of a ``person_id_fields`` pair, or the subject's ``id_number`` field):
  :func:`mask_id_number`, ``110105********002X``;
- the subject's name field (``CF_XDR_MC`` …): :func:`mask_person_name` (``张*``) only when the subject is a
  natural person (envelope kind ``natural_person`` or the data's category field says 自然人); the name of
  an organisation or an individual business is not personal data and stays in clear (catalogue comment);
- any other masked path whose last segment is ``name`` (``related_persons[].name``) names a person:
  :func:`mask_person_name`;
- anything else classed ``masked`` has no masking rule here and is left out (deny by default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from services.common.catalogue import FieldClass, RecordType, TypeVersion
from services.common.identifiers import mask_id_number, mask_person_name

NATURAL_PERSON = "natural_person"
_NATURAL_PERSON_CATEGORY = "自然人"
_Masker = Callable[[str], str]


def public_view(
    record_type: RecordType, type_version: TypeVersion, data: Mapping[str, Any], *, subject_kind: str
) -> dict[str, Any]:
    """A new dict with only the public form of ``data`` (``data`` itself is not changed)."""
    maskers = _maskers(record_type, type_version, data, subject_kind=subject_kind)
    return _view(data, type_version.field_classes, maskers, "")


def shared_view(
    record_type: RecordType, type_version: TypeVersion, data: Mapping[str, Any], *, subject_kind: str
) -> dict[str, Any]:
    """What departments and the county platform see of ``data``: public and ``shared`` values in clear,
    ``masked`` ones masked as on the portal, ``restricted`` ones and unclassed paths left out."""
    classes = {
        path: FieldClass.PUBLIC if cls is FieldClass.SHARED else cls for path, cls in type_version.field_classes.items()
    }
    maskers = _maskers(record_type, type_version, data, subject_kind=subject_kind)
    return _view(data, classes, maskers, "")


def _maskers(
    record_type: RecordType, type_version: TypeVersion, data: Mapping[str, Any], *, subject_kind: str
) -> dict[str, _Masker]:
    """Path → masking function for every ``masked`` path that has a rule; the others get none."""
    subject = record_type.subject_fields
    id_paths = {number for _, number in record_type.person_id_fields}
    if subject is not None and subject.id_number:
        id_paths.add(subject.id_number)
    person = subject_kind == NATURAL_PERSON or (
        subject is not None and data.get(subject.kind) == _NATURAL_PERSON_CATEGORY
    )
    maskers: dict[str, _Masker] = {}
    for path, cls in type_version.field_classes.items():
        if cls is not FieldClass.MASKED:
            continue
        if path in id_paths:
            maskers[path] = mask_id_number
        elif subject is not None and path == subject.name:
            maskers[path] = mask_person_name if person else _clear
        elif path.rsplit(".", 1)[-1] == "name":
            maskers[path] = mask_person_name
    return maskers


def _clear(value: str) -> str:
    return value


def _view(
    data: Mapping[str, Any], classes: Mapping[str, FieldClass], maskers: Mapping[str, _Masker], prefix: str
) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for key, value in data.items():
        path = prefix + key
        if isinstance(value, Mapping) and any(p.startswith(path + ".") for p in classes):
            nested = _view(value, classes, maskers, path + ".")
            if nested:
                shown[key] = nested
        elif isinstance(value, list) and any(p.startswith(path + "[].") for p in classes):
            items = [_view(item, classes, maskers, path + "[].") for item in value if isinstance(item, Mapping)]
            if any(items):
                shown[key] = [item for item in items if item]
        elif classes.get(path) is FieldClass.PUBLIC:
            shown[key] = value
        elif classes.get(path) is FieldClass.MASKED and path in maskers and isinstance(value, str):
            shown[key] = maskers[path](value)
    return shown
