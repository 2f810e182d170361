// The kdtune commands, one file each (app/cmd_*.c), listed in app/main.c.
#pragma once
#include "app/cli.h"

extern const cli_command cmd_validate;
extern const cli_command cmd_partition;
extern const cli_command cmd_pretrain;
