#!/usr/bin/env bash
# Every C file is formatted by the committed .clang-format (clang-format from the install
# list). To fix: clang-format -i <file>. Usage: format_test.sh SOURCE_DIR
set -u
cd "$1" || exit 1
passed=0 failed=0
while IFS= read -r f; do
  if clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    passed=$((passed + 1))
  else
    echo "FAIL $f is not formatted (clang-format -i $f)"
    failed=$((failed + 1))
  fi
done < <(find common ingest query tests bench -name '*.[ch]' | sort)
echo "format: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
