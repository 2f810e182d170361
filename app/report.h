// The files a run leaves for people and tools, all from its journal: summary.json,
// recommended.yaml, report.md and the plots under plots/.
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "app/config.h"
#include "store/store.h"

// Reads run_dir/trials.jsonl and writes every output file, over the pairs of `pairs` ("0-1,2-5",
// as --pairs; NULL: every pair the journal holds). When `table` is not NULL, the closing summary
// table is printed there too.
kdt_status report_write(const char *run_dir, const kdt_config *cfg, const char *pairs, FILE *table);
