// Small string utilities shared by the command line and the config reader.
#pragma once
#include <stddef.h>

// Levenshtein distance between two strings (for "did you mean" suggestions).
size_t text_edit_distance(const char *a, const char *b);

// Formats a double so that it reads back exactly and always looks like a float to YAML and JSON
// readers: shortest round-trip digits, with a decimal point or an exponent with a digit before
// it ("1.0", "0.25", "1.0e-05"). Non-finite values print as ".nan", ".inf", "-.inf".
void text_format_double(char *out, size_t cap, double x);
