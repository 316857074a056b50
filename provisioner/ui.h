/*
 * Terminal output for runs: whether to use color (never with NO_COLOR,
 * -no-color or when stdout is not a terminal), line-at-a-time printing
 * from worker threads, and the progress of long operations
 * ("Still creating... [40s elapsed]").
 */
#ifndef SF_UI_H
#define SF_UI_H

#include <stdbool.h>
#include <stdio.h>

/* Decide color once from the flag and the environment. */
void sf_ui_init(bool no_color_flag);
bool sf_ui_color(void);
/* Print one line to stdout; whole lines from several threads never mix. */
void sf_ui_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Progress of operations in flight. An operation starts with a verb
 * ("Creating", "Modifying", "Destroying", "Reading") and ends with
 * sf_ui_op_end; while it runs, a ticker thread prints
 * "ADDRESS: Still creating... [10s elapsed]" every interval_s seconds. */
struct sf_ui_op;
void sf_ui_progress_start(int interval_s);
void sf_ui_progress_stop(void);
struct sf_ui_op *sf_ui_op_begin(const char *address, const char *verb);
/* What the operation is waiting for now ("waiting for RUNNING,
 * PROVISIONING now"), shown in its "Still ..." lines; NULL clears it. */
void sf_ui_op_status(struct sf_ui_op *op, const char *text);
/* Ends the operation and frees op; returns its elapsed seconds. */
double sf_ui_op_end(struct sf_ui_op *op);

#endif
