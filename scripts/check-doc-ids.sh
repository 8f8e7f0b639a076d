#!/usr/bin/env bash
# Keeps the documentation self-contained. Fails (exit 1, one line per finding) when
#   1. a quirk id (Q-G3, Q-M1, Q-T9, W2, B1, ...) used anywhere in the sources, tests
#      or docs has no anchor (<a id="q-g3"></a>) in docs/go-quirks.md;
#   2. a link to docs/<file>.md#<anchor> names an anchor that file does not have
#      (an explicit <a id> or a heading's GitHub slug);
#   3. a comment or string still points into the protocol notes that live outside the
#      repository ("notes 5.7", "notes section 8", "wire notes", "§ 6.1", ...): such
#      references must name docs/wire-protocol.md or docs/go-quirks.md instead.
# Usage: scripts/check-doc-ids.sh   (from anywhere; plain grep and awk, no build)
set -euo pipefail
cd "$(dirname "$0")/.."

quirks=docs/go-quirks.md
self=scripts/check-doc-ids.sh
paths=()
for p in src tests docs compat-tests go-interop benches examples scripts README.md; do
  [ -e "$p" ] && paths+=("$p")
done

# Text files to scan, without build output and this script (its patterns would match).
scan() {
  grep -rnIE --exclude-dir=target --exclude-dir=.git --exclude="$(basename "$self")" "$@" "${paths[@]}" || true
}

status=0
fail() { echo "$*"; status=1; }

[ -f "$quirks" ] || { echo "$quirks is missing"; exit 1; }

# Anchors a docs file defines: explicit <a id="..."> plus GitHub slugs of its headings.
anchors_of() {
  awk '
    { while (match($0, /<a id="[^"]+"/)) { print substr($0, RSTART + 7, RLENGTH - 8); $0 = substr($0, RSTART + RLENGTH) } }
    /^```/ { fence = !fence; next }
    !fence && /^#+ / {
      h = tolower($0); sub(/^#+ +/, "", h)
      gsub(/[^a-z0-9 _-]/, "", h); gsub(/ /, "-", h)
      print h
    }' "$1"
}

# 1. Quirk ids must be defined in docs/go-quirks.md.
defined=$(anchors_of "$quirks" | sort -u)
while IFS= read -r hit; do
  [ -n "$hit" ] || continue
  loc=${hit%:*}
  id=${hit##*:}
  lower=$(printf '%s' "$id" | tr 'A-Z' 'a-z')
  grep -qxF "$lower" <<<"$defined" || fail "$loc: quirk id $id is not defined in $quirks (add <a id=\"$lower\"></a>)"
done < <(scan -o '\b(Q-[A-Z][0-9]+|[WB][0-9]{1,2})\b' | awk -F: '{ print $1 ":" $2 ":" $NF }')

# 2. Links into docs/*.md must name an existing anchor. A link is "docs/x.md#a" or
#    "../docs/x.md#a" from anywhere, or "x.md#a" from a file in docs/.
while IFS= read -r hit; do
  [ -n "$hit" ] || continue
  file=${hit%%:*}
  rest=${hit#*:}
  line=${rest%%:*}
  link=${rest#*:}
  name=${link%%#*}
  anchor=${link#*#}
  case "$name" in
    */docs/*|docs/*) doc=docs/${name##*docs/} ;;
    */*) continue ;;
    *) [ "${file#docs/}" != "$file" ] || continue; doc=docs/$name ;;
  esac
  if [ ! -f "$doc" ]; then
    fail "$file:$line: link $link: $doc does not exist"
  elif ! anchors_of "$doc" | grep -qxF -- "$anchor"; then
    fail "$file:$line: link $link: $doc has no anchor \"$anchor\""
  fi
done < <(scan -o '[A-Za-z0-9./_-]*\.md#[a-z0-9_-]+' | awk -F: '{ print $1 ":" $2 ":" $NF }')

# 3. No references into the outside protocol notes.
while IFS= read -r hit; do
  [ -n "$hit" ] || continue
  fail "${hit%%:*}:$(cut -d: -f2 <<<"$hit"): refers to the outside protocol notes; cite docs/wire-protocol.md or docs/go-quirks.md: $(cut -d: -f3- <<<"$hit" | sed 's/^[[:space:]]*//' | cut -c1-100)"
done < <(scan -i '\bnotes,? +(§|sections? +[0-9]|[0-9]+(\.[0-9]+)*\b)|\b(wire|protocol) notes\b|§ ?[0-9]|protoactor-go-wire\.md|design-sketch\.md')

if [ "$status" -eq 0 ]; then
  echo "doc ids: every quirk id and docs anchor is defined in the repository"
fi
exit "$status"
