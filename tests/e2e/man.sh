#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The man pages document everything each program's --help names. Read
# generically from the help text, so an option or statement added later
# without its documentation fails here:
#   - every --long option and -x short option, in the program's page;
#   - every literal lower-case word of its usage lines (commands, values
#     such as native|generic), in the program's page;
#   - every word of a "statements:" block (xlbctl's grammar), in
#     xlb.conf(5), the grammar's reference, and in xlbctl's completion.
# "Documented" means set in bold in the rendered page (where scdoc puts
# literal terms), not merely mentioned in prose. The pages must also render
# without groff warnings. Needs no lab and no root.

# shellcheck source=common.bash
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"
E2E_NAME=man

BUILD_DIR=${BUILD:-$E2E_REPO/build}
MAN_DIR=$BUILD_DIR/man
COMPLETION=$E2E_REPO/packaging/xlbctl.bash-completion

# "KIND TERM" lines from a program's --help on stdin: KIND is option,
# usage (a literal word of a usage line) or statement.
help_terms() {
	awk -v prog="$1" '
		function words(line, kind,    n, w, i) {
			gsub(/\([^)]*\)/, "", line)
			n = split(line, w, /[][|,{} \t]+/)
			for (i = 1; i <= n; i++)
				if (w[i] ~ /^[a-z][a-z0-9-]*$/ && w[i] != prog)
					print kind, w[i]
		}
		/^[ \t]*$/ { block = ""; next }
		/^[a-z ]*(statements|commands):$/ { block = "statement"; next }
		/^usage:/ { block = "usage"; sub(/^usage:/, "") }
		block != "" { words($0, block) }
		{
			line = $0
			while (match(line, /--[a-z][a-z0-9-]*/)) {
				print "option", substr(line, RSTART, RLENGTH)
				line = substr(line, RSTART + RLENGTH)
			}
			line = " " $0 " "
			while (match(line, /[ \t[,(]-[a-zA-Z][] \t,=]/)) {
				print "option", substr(line, RSTART + 1, 2)
				line = substr(line, RSTART + 3)
			}
		}' | sort -u
}

# Every word set in bold in a rendered page, one a line.
bold_words() {
	sed -e 's/\\&//g' -e 's/\\-/-/g' "$1" | grep -o '\\fB[^\\]*\\fR' |
		sed -e 's/^\\fB//' -e 's/\\fR$//' | tr -c 'A-Za-z0-9_-' '\n' | grep -v '^$' | sort -u
}

# The terms (on stdin) that are not in the word list file $1.
missing_from() {
	grep -vxFf "$1" | tr '\n' ' '
}

check_program() {
	local prog=$1 page=$MAN_DIR/$1.8 terms words missing stmt_missing
	local help=$E2E_DIR/$prog.help
	if ! "$BUILD_DIR/$prog" --help >"$help" 2>&1; then
		fail "man/$prog" "$BUILD_DIR/$prog --help failed: $(head -3 "$help")"
		return
	fi
	if [[ ! -s $page ]]; then
		fail "man/$prog" "$page is not built (run make)"
		return
	fi
	terms=$E2E_DIR/$prog.terms
	help_terms "$prog" <"$help" >"$terms"
	bold_words "$page" >"$E2E_DIR/$prog.bold"
	missing=$(awk '$1 != "statement" { print $2 }' "$terms" | missing_from "$E2E_DIR/$prog.bold")
	check "man/$prog" "$(grep -vc '^statement ' "$terms") options and usage words${missing:+; missing from $prog.8: $missing}" \
		test -z "$missing"
	grep -q '^statement ' "$terms" || return 0
	bold_words "$MAN_DIR/xlb.conf.5" >"$E2E_DIR/conf.bold"
	stmt_missing=$(awk '$1 == "statement" { print $2 }' "$terms" | missing_from "$E2E_DIR/conf.bold")
	check "man/$prog-statements" \
		"$(grep -c '^statement ' "$terms") statement keywords${stmt_missing:+; missing from xlb.conf.5: $stmt_missing}" \
		test -z "$stmt_missing"
}

# xlbctl's completion offers every option and statement keyword of its help:
# written in it, or (keyword values) asked of `xlbctl --keywords` at run time.
check_completion() {
	local terms=$E2E_DIR/xlbctl.terms missing
	{
		tr -c 'A-Za-z0-9_-' '\n' <"$COMPLETION"
		grep -q '_xlbctl_words' "$COMPLETION" && "$BUILD_DIR/xlbctl" --keywords | cut -f2
	} | grep -v '^$' | sort -u >"$E2E_DIR/completion.words"
	missing=$(awk '$1 != "usage" { print $2 }' "$terms" | missing_from "$E2E_DIR/completion.words")
	check "man/xlbctl-completion" "${missing:+missing from $COMPLETION: $missing}" test -z "$missing"
}

check_render() {
	local page warnings
	for page in "$MAN_DIR"/*.[58]; do
		warnings=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$page" 2>&1)
		check "man/render-$(basename "$page")" "${warnings:+groff: $warnings}" test -z "$warnings"
	done
}

main() {
	E2E_DIR=$(mktemp -d /tmp/xe2e-man.XXXXXX)
	trap 'rm -rf -- "$E2E_DIR"' EXIT
	for prog in xlbd xlbctl xlb-backend; do
		check_program "$prog"
	done
	check_completion
	check_render
	e2e_finish
}

main
