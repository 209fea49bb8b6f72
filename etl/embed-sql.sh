#!/bin/sh
# Writes a C file holding sql/NNN_*.sql as strings (see etl/sql_embed.h).
# Plain POSIX sh and od, so the build needs nothing beyond a C toolchain.
set -eu
echo '#include "sql_embed.h"'
n=0
for f in "$@"; do
	printf 'static const unsigned char sql_%d[] = {' "$n"
	od -An -v -tx1 "$f" | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'
	printf '0};\n'
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
