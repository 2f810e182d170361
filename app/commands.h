// The kdtune commands, one file each (app/cmd_*.c), listed in app/main.c.
#pragma once
#include "app/cli.h"

extern const cli_command cmd_validate;
extern const cli_command cmd_eval;
extern const cli_command cmd_grid;
extern const cli_command cmd_tune;
extern const cli_command cmd_report;
extern const cli_command cmd_run;
extern const cli_command cmd_partition;
extern const cli_command cmd_pretrain;
extern const cli_command cmd_export;
