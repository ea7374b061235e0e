# Hard-E — GNU Makefile.
#
#   make          build build/harde
#   make run      install what is missing, build, start `harde serve` (prints the address)
#   make test     install, build, run every test; ends with "N passed, N failed"
#   make asan     the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench    build and run the benchmarks under bench/, printing figures
#   make format   format the sources with .clang-format

BUILD    ?= build
CC       ?= cc
PKGS     := libcurl jansson sqlite3 libmicrohttpd openssl libsodium
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
OPT      ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter \
            $(OPT) -Isrc $(PKG_CFLAGS) -MMD -MP -DHARDE_SHARE_DIR='"$(CURDIR)/data"'
LDLIBS   += $(PKG_LIBS) -lm
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRC  := $(shell find src -name '*.c' ! -path 'src/cli/*' | sort)
CLI_SRC  := $(shell find src/cli -name '*.c' | sort)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)

TEST_SUPPORT_SRC := $(wildcard tests/support/*.c)
TEST_SUPPORT_OBJ := $(TEST_SUPPORT_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)

BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps run test test-only asan bench format clean
# Keep the test support objects (make would delete them as intermediates after the
# summary line, which must stay the last line of `make test`).
.SECONDARY: $(TEST_SUPPORT_OBJ)
all: $(BUILD)/harde

deps:
	@sh scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# The page and the OpenAPI file, embedded in the binary (src/web/assets.h).
WEB_ASSETS := $(sort $(wildcard web/ui/*)) docs/openapi.json
$(BUILD)/gen/web_assets.c: scripts/embed.py $(WEB_ASSETS)
	@mkdir -p $(@D)
	python3 scripts/embed.py $@ $(WEB_ASSETS)

$(BUILD)/gen/web_assets.o: $(BUILD)/gen/web_assets.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libharde.a: $(LIB_OBJ) $(BUILD)/gen/web_assets.o
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/harde: $(CLI_OBJ) $(BUILD)/libharde.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libharde.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(TEST_SUPPORT_OBJ) $(BUILD)/libharde.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(TEST_SUPPORT_OBJ) $(BUILD)/libharde.a $(LDFLAGS) \
	    $(LDLIBS) -lcmocka

$(BUILD)/bench/%: bench/%.c $(BUILD)/libharde.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libharde.a $(LDFLAGS) $(LDLIBS)

# The web app, with a worker beside it for the primer videos; both stop together.
run: deps
	@$(MAKE) --no-print-directory all
	@./$(BUILD)/harde worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	./$(BUILD)/harde serve

# Builds everything the tests need, then runs them.
test-only: $(BUILD)/harde $(TEST_BIN)
	@HARDE_BUILD=$(BUILD) sh tests/run.sh

test: deps
	@$(MAKE) --no-print-directory test-only

asan: deps
	@$(MAKE) --no-print-directory test-only BUILD=build-asan OPT="-O1 -g $(SAN_FLAGS)" \
	    LDFLAGS="$(SAN_FLAGS)"

bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/harde $(BENCH_BIN)
	@HARDE_BUILD=$(BUILD) sh bench/run.sh

format:
	clang-format -i $$(find src tests bench -name '*.[ch]')

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
