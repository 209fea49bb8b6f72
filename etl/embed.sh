#!/bin/sh
# Writes a C file that holds files as strings, so that the program and what
# it carries cannot drift.  Plain POSIX sh, od and awk, so the build needs
# nothing beyond a C toolchain.
#
#   embed.sh sql sql/NNN_*.sql   the migrations, as sql_files[] (etl/sql_embed.h)
#   embed.sh css NAME FILE.css   a stylesheet, as the string NAME
#                                (etl/css_embed.h), minified as page.css says
set -eu

# The bytes of stdin as the rest of an unsigned char array, NUL-terminated.
bytes() {
	od -An -v -tx1 | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'
	printf '0};\n'
}

sql() {
	echo '#include "sql_embed.h"'
	n=0
	for f in "$@"; do
		printf 'static const unsigned char sql_%d[] = {' "$n"
		bytes < "$f"
		n=$((n + 1))
	done
	echo 'const struct sql_file sql_files[] = {'
	n=0
	for f in "$@"; do
		base=$(basename "$f")
		version=$(echo "$base" | sed 's/^0*\([0-9][0-9]*\)_.*/\1/')
		printf '\t{ %s, "%s", (const char *)sql_%d },\n' "$version" "$base" "$n"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || printf '\t{ 0, "", "" },\n'
	echo '};'
	echo "const size_t sql_file_count = $n;"
}

# Whole-line comments, line breaks and leading indentation dropped: the
# page carries the rules as one line, the file keeps them readable.
minify_css() {
	awk '
	in_comment { if ($0 ~ /\*\/[ \t]*$/) in_comment = 0; next }
	/^[ \t]*\/\*/ { if ($0 !~ /\*\/[ \t]*$/) in_comment = 1; next }
	{ sub(/^[ \t]+/, ""); printf "%s", $0 }' "$1"
}

css() {
	echo '#include "css_embed.h"'
	printf 'static const unsigned char %s_bytes[] = {' "$1"
	minify_css "$2" | bytes
	printf 'const char *const %s = (const char *)%s_bytes;\n' "$1" "$1"
}

mode=$1
shift
case $mode in
sql) sql "$@" ;;
css) [ $# -eq 2 ] || { echo "usage: embed.sh css NAME FILE.css" >&2; exit 2; }
	css "$@" ;;
*) echo "usage: embed.sh sql FILE... | css NAME FILE.css" >&2; exit 2 ;;
esac
