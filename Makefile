# onestop-etl - see README.md.  `make demo` and `make test` are the two
# commands; everything else here serves them.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PYTHON  ?= python3

PG_INCLUDE := $(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
WARN     = -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wvla
CPPFLAGS += -D_GNU_SOURCE -DDATADIR='"$(PREFIX)/share/onestop-etl"' -I$(PG_INCLUDE) -Ietl
CFLAGS  ?= -O2 -g
SANFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fsanitize=float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow
LIBS     = -lcurl -lcsv -lpq -lxlsxwriter -lz -lpthread -lm

SRC     := $(wildcard etl/*.c)
LIBSRC  := $(filter-out etl/main.c,$(SRC))
# sql/migrations: state, applied once each in version order; sql/code: the
# current functions and views, one module a file, applied in this order (a
# module's SQL functions are checked against those before it).
SQLMIG  := $(sort $(wildcard sql/migrations/[0-9]*.sql))
SQLCODE := $(addprefix sql/code/,admin.sql calendar.sql rules.sql partition.sql merge.sql \
           lineage.sql derive.sql kpi.sql scores.sql form06.sql marts.sql)
EMBED   := sql_embed css_embed
REL_OBJ := $(patsubst etl/%.c,build/rel/%.o,$(SRC)) $(EMBED:%=build/rel/%.o)
SAN_OBJ := $(patsubst etl/%.c,build/san/%.o,$(SRC)) $(EMBED:%=build/san/%.o)
SAN_LIB := $(patsubst etl/%.c,build/san/%.o,$(LIBSRC)) $(EMBED:%=build/san/%.o)
UNIT    := $(patsubst tests/unit/%.c,build/san/unit/%,$(wildcard tests/unit/test_*.c))

# Debian packages the project builds and tests with.
DEB_PKGS = gcc make pkg-config libcurl4-openssl-dev libcsv-dev libpq-dev \
           zlib1g-dev libxlsxwriter-dev postgresql postgresql-contrib \
           python3 curl time
# Only the tests: SQL tests on pgTAP, and reading the form 06 workbook back.
DEB_TEST_PKGS = postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl \
           python3-openpyxl

.PHONY: all deps bench-deps test unit demo bench fuzz chaos install uninstall clean format format-check

all: build/onestop-etl

build/onestop-etl: $(REL_OBJ)
	$(CC) $(CFLAGS) -o $@ $(REL_OBJ) $(LIBS)

build/rel/%.o: etl/%.c | build/rel
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -MMD -MP -c -o $@ $<

# The test build: the same sources under AddressSanitizer and UBSan.
build/san/onestop-etl: $(SAN_OBJ)
	$(CC) $(SANFLAGS) -o $@ $(SAN_OBJ) $(LIBS)

build/san/%.o: etl/%.c | build/san
	$(CC) $(CPPFLAGS) $(WARN) $(SANFLAGS) -MMD -MP -c -o $@ $<

build/san/unit/%: tests/unit/%.c $(SAN_LIB) | build/san/unit
	$(CC) $(CPPFLAGS) -Itests/unit $(WARN) $(SANFLAGS) -o $@ $< $(SAN_LIB) $(LIBS)

# The migrations and code modules travel inside the binary: program and
# schema cannot drift.  The folders are prerequisites too: a file taken away
# changes them, not the files left.
build/sql_embed.c: $(SQLMIG) $(SQLCODE) sql/migrations sql/code etl/embed.sh Makefile | build/rel
	sh etl/embed.sh sql $(SQLMIG) -- $(SQLCODE) > $@.tmp && mv $@.tmp $@

# So does the report page's stylesheet, kept as CSS in etl/page.css.
build/css_embed.c: etl/page.css etl/embed.sh | build/rel
	sh etl/embed.sh css page_css etl/page.css > $@.tmp && mv $@.tmp $@

build/rel/%_embed.o: build/%_embed.c etl/%_embed.h
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -c -o $@ $<

build/san/%_embed.o: build/%_embed.c etl/%_embed.h | build/san
	$(CC) $(CPPFLAGS) $(WARN) $(SANFLAGS) -c -o $@ $<

build/rel build/san build/san/unit:
	mkdir -p $@

-include $(wildcard build/rel/*.d build/san/*.d)

deps:
	@missing=$$(for p in $(DEB_PKGS) $(DEB_TEST_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "missing packages; run: sudo apt-get install -y" $$missing; exit 1; \
	fi; \
	echo "installing:" $$missing; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing

unit: build/san/onestop-etl $(UNIT)

test: deps
	$(MAKE) unit
	$(PYTHON) tests/run.py

demo: deps
	$(MAKE) all
	$(PYTHON) tests/demo.py

# Only the bench: pgloader, the tool an administrator would reach for,
# measured beside load-file.  Not fatal: without it the bench says so and
# skips that figure.
BENCH_PKGS = pgloader

bench-deps:
	@missing=$$(for p in $(BENCH_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "note: the bench skips what needs" $$missing "(sudo apt-get install -y" $$missing")"; exit 0; \
	fi; \
	echo "installing:" $$missing; \
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) || \
		echo "note: cannot install" $$missing": the bench skips what needs it"

bench: deps bench-deps
	$(MAKE) all
	$(PYTHON) tests/bench/bench.py

# Thirty nights of faults against the release build (tests/chaos/chaos.py;
# a short version runs in make test).
chaos: all unit
	$(PYTHON) tests/chaos/chaos.py

# The fuzz target: libFuzzer over bytes -> csvstream -> record (tests/fuzz/).
# Bounded by FUZZ_TIME seconds; what it learns goes to build/fuzz/corpus, a
# crash to build/fuzz/crash-*.  The checked-in seeds (tests/fuzz/corpus) also
# run in `make test`, as build/san/unit/test_fuzz_corpus.
FUZZ_TIME ?= 60
FUZZ_SRC   = etl/csvstream.c etl/record.c etl/tstamp.c etl/civil.c etl/utf8.c \
             etl/buf.c etl/util.c

build/fuzz/fuzz_csv_record: tests/fuzz/fuzz_csv_record.c $(FUZZ_SRC) $(wildcard etl/*.h)
	@command -v clang >/dev/null || { echo "make fuzz needs clang: apt-get install -y clang"; exit 1; }
	@mkdir -p build/fuzz/corpus
	clang $(CPPFLAGS) $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -o $@ tests/fuzz/fuzz_csv_record.c $(FUZZ_SRC) -lcsv

fuzz: build/fuzz/fuzz_csv_record
	build/fuzz/fuzz_csv_record -max_total_time=$(FUZZ_TIME) -max_len=65536 -timeout=10 \
		-rss_limit_mb=2048 -dict=tests/fuzz/csv_record.dict -artifact_prefix=build/fuzz/ \
		build/fuzz/corpus tests/fuzz/corpus

# the corpus test includes the fuzz target's source
build/san/unit/test_fuzz_corpus: tests/fuzz/fuzz_csv_record.c


# The cron file and logrotate snippet go to share/ (enabling them is a step
# of README's setup); the example and the cron file name $(PREFIX).
# config.o holds DATADIR: rebuild it if it was compiled for another PREFIX.
# Last, a note on what the nightly job needs and the host lacks (cron that
# runs, logrotate, an MTA): a note, not a failure.
install: all
	grep -qF '$(PREFIX)/share/onestop-etl/calendar-vn.csv' build/onestop-etl || \
		{ rm -f build/rel/config.o && $(MAKE) build/onestop-etl; }
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/onestop-etl/sql/migrations \
		$(DESTDIR)$(PREFIX)/share/onestop-etl/sql/code \
		$(DESTDIR)$(PREFIX)/lib/onestop-etl $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 build/onestop-etl $(DESTDIR)$(PREFIX)/bin/onestop-etl
	install -m 644 $(SQLMIG) $(DESTDIR)$(PREFIX)/share/onestop-etl/sql/migrations/
	install -m 644 $(SQLCODE) $(DESTDIR)$(PREFIX)/share/onestop-etl/sql/code/
	install -m 644 config/calendar-vn.csv config/profiles.csv config/unit-lineage.csv \
		cron/onestop-etl.logrotate \
		$(DESTDIR)$(PREFIX)/share/onestop-etl/
	for f in config/onestop-etl.conf.example cron/onestop-etl.cron; do \
		sed 's|/usr/local/|$(PREFIX)/|g' $$f > $(DESTDIR)$(PREFIX)/share/onestop-etl/$${f#*/} && \
		chmod 644 $(DESTDIR)$(PREFIX)/share/onestop-etl/$${f#*/} || exit 1; done
	install -m 755 cron/onestop-etl-nightly $(DESTDIR)$(PREFIX)/lib/onestop-etl/
	install -m 644 etl/onestop-etl.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	@sh cron/check-prereqs.sh

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/onestop-etl $(DESTDIR)$(PREFIX)/share/man/man1/onestop-etl.1 \
		$(DESTDIR)$(PREFIX)/lib/onestop-etl/onestop-etl-nightly \
		$(addprefix $(DESTDIR)$(PREFIX)/share/onestop-etl/sql/,$(SQLMIG:sql/%=%) $(SQLCODE:sql/%=%)) \
		$(addprefix $(DESTDIR)$(PREFIX)/share/onestop-etl/,calendar-vn.csv profiles.csv unit-lineage.csv \
		onestop-etl.conf.example onestop-etl.cron onestop-etl.logrotate)
	rmdir $(DESTDIR)$(PREFIX)/share/onestop-etl/sql/migrations \
		$(DESTDIR)$(PREFIX)/share/onestop-etl/sql/code $(DESTDIR)$(PREFIX)/share/onestop-etl/sql \
		$(DESTDIR)$(PREFIX)/share/onestop-etl \
		$(DESTDIR)$(PREFIX)/lib/onestop-etl 2>/dev/null || true

clean:
	rm -rf build

format:
	clang-format -i etl/*.c etl/*.h tests/unit/*.c tests/unit/*.h

format-check:
	clang-format --dry-run --Werror etl/*.c etl/*.h tests/unit/*.c tests/unit/*.h
