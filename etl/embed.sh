#!/bin/sh
# Writes a C file that holds files as strings, so that the program and what
# it carries cannot drift.  Plain POSIX sh, od and awk, so the build needs
# nothing beyond a C toolchain.
#
#   embed.sh sql MIGRATION... -- MODULE...
#                                the migrations (sql/migrations/NNN_*.sql) as
#                                sql_files[], the code modules (sql/code/*.sql,
#                                in the order given) as sql_code[]
#                                (etl/sql_embed.h)
#   embed.sh css NAME FILE.css   a stylesheet, as the string NAME
#                                (etl/css_embed.h), minified as page.css says
set -eu

# The bytes of stdin as the rest of an unsigned char array, NUL-terminated.
bytes() {
	od -An -v -tx1 | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'
	printf '0};\n'
}

# One array NAME of struct sql_file from the files; with versions (the
# name's leading number) when the second argument is "versioned".  The hash
# is POSIX cksum's CRC and size: it tells a changed file from the one a
# warehouse applied, which is all it is for.
sql_array() {
	array=$1
	versioned=$2
	shift 2
	n=0
	for f in "$@"; do
		printf 'static const unsigned char %s_%d[] = {' "$array" "$n"
		bytes < "$f"
		n=$((n + 1))
	done
	echo "const struct sql_file $array[] = {"
	n=0
	for f in "$@"; do
		base=$(basename "$f")
		version=0
		[ "$versioned" = versioned ] &&
			version=$(echo "$base" | sed 's/^0*\([0-9][0-9]*\)_.*/\1/')
		hash=$(cksum < "$f" | awk '{ print $1 "-" $2 }')
		printf '\t{ %s, "%s", "%s", (const char *)%s_%d },\n' "$version" "$base" "$hash" \
			"$array" "$n"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || printf '\t{ 0, "", "", "" },\n'
	echo '};'
	echo "const size_t ${array%s}_count = $n;"
}

sql() {
	migrations=
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		migrations="$migrations $1"
		shift
	done
	[ $# -gt 0 ] && shift
	echo '#include "sql_embed.h"'
	# shellcheck disable=SC2086 # file names without blanks, by the Makefile
	sql_array sql_files versioned $migrations
	sql_array sql_code modules "$@"
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
*) echo "usage: embed.sh sql MIGRATION... -- MODULE... | css NAME FILE.css" >&2; exit 2 ;;
esac
