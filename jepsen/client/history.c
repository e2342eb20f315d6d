/* history.c: the JSON-lines history writer (fault-injection.md §2, §5.5).
 * One mutex serialises index assignment, time stamping and the write, so
 * indexes are dense and times never decrease in file order. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "jw.h"

uint64_t jw_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int jw_hist_open(struct jw_hist *h, const char *path, uint64_t t0_ns,
                 char errmsg[static REG_ERRMSG_SIZE])
{
    memset(h, 0, sizeof *h);
    h->f = fopen(path, "w");
    if (h->f == NULL) {
        reg_errmsgf(errmsg, "cannot write %s: %s", path, strerror(errno));
        return REG_UNAVAILABLE;
    }
    pthread_mutex_init(&h->mu, NULL);
    h->t0_ns = t0_ns;
    return REG_OK;
}

void jw_hist_close(struct jw_hist *h)
{
    if (h->f != NULL) {
        fclose(h->f);
        h->f = NULL;
        pthread_mutex_destroy(&h->mu);
    }
}

static int type_slot(const char *type, const json_t *value)
{
    if (strcmp(type, "ok") == 0) {
        return json_object_get(value, "rejected") != NULL ? 1 : 0;
    }
    if (strcmp(type, "fail") == 0) {
        return 2;
    }
    return strcmp(type, "info") == 0 ? 3 : -1;
}

int64_t jw_hist_write(struct jw_hist *h, const struct jw_rec *r)
{
    json_t *o = json_object();
    char *line;
    int64_t t;
    int slot;

    pthread_mutex_lock(&h->mu);
    t = (int64_t)(jw_mono_ns() - h->t0_ns);
    json_object_set_new(o, "index", json_integer(h->next_index++));
    json_object_set_new(o, "time", json_integer(t));
    json_object_set_new(o, "type", json_string(r->type));
    if (r->process < 0) {
        json_object_set_new(o, "process", json_string("nemesis"));
    } else {
        json_object_set_new(o, "process", json_integer(r->process));
    }
    json_object_set_new(o, "f", json_string(r->f));
    if (r->key != NULL) {
        json_object_set_new(o, "key", json_string(r->key));
    }
    json_object_set_new(o, "value", r->value != NULL ? r->value : json_null());
    if (r->error != NULL) {
        json_object_set_new(o, "error", json_string(r->error));
    }
    if (r->node != NULL) {
        json_object_set_new(o, "node", json_string(r->node));
    }
    if (r->req_id != NULL) {
        json_object_set_new(o, "req_id", json_string(r->req_id));
    }
    if (r->applied_index >= 0) {
        json_object_set_new(o, "applied_index", json_integer(r->applied_index));
    }
    slot = type_slot(r->type, r->value);
    if (slot >= 0) {
        h->ops[slot]++;
    }
    line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (line != NULL) {
        fputs(line, h->f);
        fputc('\n', h->f);
        free(line);
    }
    fflush(h->f);
    pthread_mutex_unlock(&h->mu);
    json_decref(o);
    return t;
}
