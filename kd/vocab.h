// The names of KD's choices, one table per enum: what configs, journal lines and reports write.
#pragma once
#include "common/error.h"
#include "kd/loss.h"

// Who teaches whom in an unordered pair {i, j}, i < j: forward = i teaches j.
typedef enum { KD_FORWARD = 0, KD_REVERSE, KD_N_POSITIONS } kd_position;

enum { KD_N_TRANSFERS = KD_STUDENT_DATA + 1 };

// The KD method of a round (DESIGN: kd = one teacher, dml = deep mutual learning, dpkd =
// data-partitioning KD).
typedef enum { KD_METHOD_KD = 0, KD_METHOD_DML, KD_METHOD_DPKD, KD_N_METHODS } kd_method;

// "unlabelled", "unlabelled_self", "student_data"; NULL out of range.
const char *kd_transfer_name(kd_transfer t);
kdt_status kd_transfer_from_name(const char *name, kd_transfer *out);
// "kd", "dml", "dpkd"; NULL out of range.
const char *kd_method_name(kd_method m);
kdt_status kd_method_from_name(const char *name, kd_method *out);
// "forward", "reverse"; NULL out of range.
const char *kd_position_name(kd_position p);
kdt_status kd_position_from_name(const char *name, kd_position *out);

// The student and teacher of pair {i, j} (i < j) in a position.
static inline int kd_student_of(int i, int j, kd_position p) { return p == KD_FORWARD ? j : i; }
static inline int kd_teacher_of(int i, int j, kd_position p) { return p == KD_FORWARD ? i : j; }
