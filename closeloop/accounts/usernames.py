"""User names that cannot pass for someone else's.

Two names are the same name when they are equal after NFKC normalisation and case folding
(`key`): "Admin", "ＡＤＭＩＮ" (full-width) and "admin" are one name, stored in
`User.username_key` (unique), so the database itself refuses the second.

A new name is refused (`problem`) when it
- is not already in NFKC form (full-width letters, ligatures, other compatibility forms);
- mixes scripts, e.g. a Cyrillic "а" among Latin letters ("аdmin") or Latin among Han
  (digits and `@ . + - _` belong to every script): one name, one script;
- is written in another script but every letter of it looks like a Latin one
  (Cyrillic "асе" reads "ace").

Scripts and look-alikes come from Unicode's data through `confusable_homoglyphs`
(the library django-registration uses for the same purpose).
"""

import unicodedata

from confusable_homoglyphs import categories, confusables
from django.utils.translation import gettext as _


def key(name: str) -> str:
    return unicodedata.normalize("NFKC", name or "").casefold()


def problem(name: str) -> str | None:
    """Why `name` may not be a new user name, or None."""
    if unicodedata.normalize("NFKC", name) != name:
        return _("Use plain characters: no full-width letters, ligatures or other compatibility forms.")
    scripts = categories.unique_aliases(name) - {"COMMON"}
    if len(scripts) > 1:
        return _("A user name is written in one script (letters of one alphabet); this one mixes %(s)s.") % {
            "s": ", ".join(sorted(s.title() for s in scripts))}
    if scripts and scripts != {"LATIN"}:
        letters = [c for c in name if categories.alias(c) != "COMMON"]
        if letters and all(confusables.is_confusable(c, preferred_aliases=["latin"]) for c in letters):
            return _("This name looks like a Latin one written in other letters; choose another.")
    return None


def taken(name: str, *, exclude_pk=None) -> bool:
    from .models import User

    qs = User.objects.filter(username_key=key(name))
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()
