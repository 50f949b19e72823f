/* log: leveled, thread-safe log lines to stderr, stamped with time, module and
 * (when there is one) the call-id or request-id being handled. */
#ifndef PB_BASE_LOG_H
#define PB_BASE_LOG_H

enum log_level { LVL_DEBUG = 0, LVL_INFO, LVL_WARN, LVL_ERR };

void log_set_level(enum log_level min);
enum log_level log_get_level(void);

/* id: call-id or request-id of what is being handled, or NULL. */
void log_msg(enum log_level lvl, const char *mod, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(mod, ...) log_msg(LVL_DEBUG, mod, NULL, __VA_ARGS__)
#define log_info(mod, ...)  log_msg(LVL_INFO, mod, NULL, __VA_ARGS__)
#define log_warn(mod, ...)  log_msg(LVL_WARN, mod, NULL, __VA_ARGS__)
#define log_err(mod, ...)   log_msg(LVL_ERR, mod, NULL, __VA_ARGS__)

#endif
