# Fills the keyword markers of a man page source (docs/man/*.scd) from the
# keyword tables, as `xlbctl --keywords` prints them (kind TAB word TAB
# meaning), so the pages list exactly the words xlbctl and xlbd accept:
#   @WORDS:kind@  ->  a|b|c            (synopses)
#   @BOLD:kind@   ->  *a*|*b*|*c*      (scdoc text)
#   a line holding only @LIST:kind@ -> per word, "*word*" and its meaning
#   one level deeper, at the marker's indentation.
# Usage: awk -f man-keywords.awk KEYWORDS.tsv PAGE.scd
BEGIN { FS = "\t" }
FILENAME == ARGV[1] {
	n[$1]++
	word[$1, n[$1]] = $2
	meaning[$1, n[$1]] = $3
	next
}
function joined(kind, pre, post,    i, s) {
	if (!(kind in n)) {
		print "man-keywords: no keywords of kind '" kind "'" > "/dev/stderr"
		failed = 1
		exit 1
	}
	for (i = 1; i <= n[kind]; i++)
		s = s (i > 1 ? "|" : "") pre word[kind, i] post
	return s
}
function sentence(s) {
	return toupper(substr(s, 1, 1)) substr(s, 2) "."
}
/^[\t]*@LIST:[a-z]+@$/ {
	indent = $0
	sub(/@.*/, "", indent)
	kind = $0
	sub(/^[\t]*@LIST:/, "", kind)
	sub(/@$/, "", kind)
	joined(kind, "", "")
	for (i = 1; i <= n[kind]; i++) {
		print indent "*" word[kind, i] "*"
		print indent "\t" sentence(meaning[kind, i])
	}
	next
}
{
	line = $0
	while (match(line, /@(WORDS|BOLD):[a-z]+@/)) {
		tag = substr(line, RSTART + 1, RLENGTH - 2)
		split(tag, part, ":")
		text = part[1] == "BOLD" ? joined(part[2], "*", "*") : joined(part[2], "", "")
		line = substr(line, 1, RSTART - 1) text substr(line, RSTART + RLENGTH)
	}
	print line
}
END { if (failed) exit 1 }
