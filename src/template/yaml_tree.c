/* SPDX-License-Identifier: MIT */
/*
 * yaml_tree.c: libyaml events -> a jansson tree, as internal.h describes, plus a map from
 * key paths to line numbers for error messages.
 *
 * Owns the libyaml parser of one call and an explicit stack of open collections (bounded by
 * GL_TEMPLATE_MAX_DEPTH, so a hostile file cannot recurse us off the stack). Aliases are refused
 * as CloudFormation refuses them, which also rules out "billion laughs" expansion.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "internal.h"

#define LINE_PATH_DEPTH 5 /* Resources/<id>/Properties/<prop>/<member> */

struct frame {
    json_t *node;  /* the open sequence or mapping */
    char *tag;     /* its tag, applied when it closes */
    char *key;     /* mapping: the key waiting for its value */
    int key_line;
};

struct builder {
    const char *file;
    gl_err_t *err;
    struct frame stack[GL_TEMPLATE_MAX_DEPTH];
    int depth;
    json_t *root;
    json_t *lines;
};

static int syntax(struct builder *b, const yaml_mark_t *mark, const char *what, const char *arg)
{
    return gl_err_set(b->err, EINVAL, "%s:%zu: %s%s%s", b->file, mark->line + 1, what,
                      arg ? " " : "", arg ? arg : "");
}

/* Wrap node in the long form of its CloudFormation short-form tag. Takes node. */
static json_t *apply_tag(json_t *node, const char *tag)
{
    if (!node || !tag || !strcmp(tag, "!"))
        return node;
    if (!strncmp(tag, "tag:yaml.org,2002:", 18)) {
        if (!strcmp(tag + 18, "str") && json_is_null(node)) {
            json_decref(node);
            return json_string("");
        }
        return node; /* other standard tags: the text is kept as it is */
    }
    if (tag[0] != '!' || !tag[1])
        return node;
    const char *name = tag + 1;
    char key[128];
    if (!strcmp(name, "Ref") || !strcmp(name, "Condition"))
        snprintf(key, sizeof(key), "%s", name);
    else
        snprintf(key, sizeof(key), "Fn::%s", name);
    if (!strcmp(name, "GetAtt") && json_is_string(node)) {
        const char *s = json_string_value(node), *dot = strchr(s, '.');
        json_t *pair = dot ? json_pack("[s#s]", s, (int)(dot - s), dot + 1) : NULL;
        if (pair) {
            json_decref(node);
            node = pair;
        }
    }
    json_t *wrapped = json_object();
    if (!wrapped || json_object_set_new(wrapped, key, node) < 0) {
        json_decref(wrapped);
        return NULL;
    }
    return wrapped;
}

static json_t *scalar_node(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag &&
        (len == 0 || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
         !strcmp(v, "NULL")))
        return json_null();
    return json_stringn(v, len);
}

static void record_line(struct builder *b, const char *key, int line)
{
    if (b->depth > LINE_PATH_DEPTH)
        return;
    char path[1024];
    size_t o = 0;
    for (int i = 0; i < b->depth; i++) {
        if (!b->stack[i].key)
            return; /* inside a sequence: no path recorded */
        int n = snprintf(path + o, sizeof(path) - o, "%s/", b->stack[i].key);
        if (n < 0 || (size_t)n >= sizeof(path) - o)
            return;
        o += (size_t)n;
    }
    if ((size_t)snprintf(path + o, sizeof(path) - o, "%s", key) >= sizeof(path) - o)
        return;
    json_object_set_new(b->lines, path, json_integer(line));
}

/* Attach a finished node (taken) to the innermost open collection, or make it the root. */
static int attach(struct builder *b, json_t *node, const yaml_mark_t *mark)
{
    if (!node)
        return gl_err_set(b->err, ENOMEM, "%s: out of memory", b->file);
    if (b->depth == 0) {
        if (!json_is_object(node)) {
            json_decref(node);
            return syntax(b, mark, "the template is not a mapping", NULL);
        }
        b->root = node;
        return 0;
    }
    struct frame *f = &b->stack[b->depth - 1];
    if (json_is_array(f->node))
        return json_array_append_new(f->node, node) < 0 ? gl_err_set(b->err, ENOMEM, "oom") : 0;
    char *key = f->key;
    f->key = NULL;
    int rc = json_object_set_new(f->node, key, node) < 0 ? gl_err_set(b->err, ENOMEM, "oom") : 0;
    free(key);
    return rc;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
    struct frame *f = b->depth ? &b->stack[b->depth - 1] : NULL;
    if (f && json_is_object(f->node) && !f->key) {
        const char *key = (const char *)ev->data.scalar.value;
        if (strlen(key) != ev->data.scalar.length)
            return syntax(b, &ev->start_mark, "a key contains a NUL byte", NULL);
        if (json_object_get(f->node, key))
            return syntax(b, &ev->start_mark, "duplicate key", key);
        b->depth--; /* record the path of the key's parent, then the key */
        record_line(b, key, (int)ev->start_mark.line + 1);
        b->depth++;
        f->key_line = (int)ev->start_mark.line + 1;
        if (!(f->key = strdup(key)))
            return gl_err_set(b->err, ENOMEM, "%s: out of memory", b->file);
        return 0;
    }
    return attach(b, apply_tag(scalar_node(ev), (const char *)ev->data.scalar.tag),
                  &ev->start_mark);
}

static int on_start(struct builder *b, const yaml_event_t *ev, int is_map)
{
    struct frame *f = b->depth ? &b->stack[b->depth - 1] : NULL;
    if (f && json_is_object(f->node) && !f->key)
        return syntax(b, &ev->start_mark, "complex mapping keys are not supported", NULL);
    if (b->depth == GL_TEMPLATE_MAX_DEPTH)
        return syntax(b, &ev->start_mark, "nesting is too deep", NULL);
    const yaml_char_t *tag = is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
    struct frame *n = &b->stack[b->depth];
    memset(n, 0, sizeof(*n));
    n->node = is_map ? json_object() : json_array();
    n->tag = tag ? strdup((const char *)tag) : NULL;
    if (!n->node || (tag && !n->tag)) {
        json_decref(n->node);
        free(n->tag);
        return gl_err_set(b->err, ENOMEM, "%s: out of memory", b->file);
    }
    b->depth++;
    return 0;
}

static int on_end(struct builder *b, const yaml_event_t *ev)
{
    struct frame *f = &b->stack[--b->depth];
    json_t *node = apply_tag(f->node, f->tag);
    free(f->tag);
    free(f->key);
    memset(f, 0, sizeof(*f));
    return attach(b, node, &ev->start_mark);
}

int gl_template_line(json_t *lines, const char *const *path)
{
    size_t n = 0;
    while (path[n])
        n++;
    for (; n > 0; n--) {
        char key[1024];
        size_t o = 0;
        for (size_t i = 0; i < n && o < sizeof(key); i++)
            o += (size_t)snprintf(key + o, sizeof(key) - o, i ? "/%s" : "%s", path[i]);
        if (o >= sizeof(key))
            continue;
        json_t *line = json_object_get(lines, key);
        if (line)
            return (int)json_integer_value(line);
    }
    return 0;
}

int gl_template_parse_yaml(const char *text, size_t len, const char *file, json_t **root,
                      json_t **lines, gl_err_t *err)
{
    struct builder b = {.file = file, .err = err};
    yaml_parser_t parser;
    yaml_event_t ev;
    int rc = 0, done = 0, docs = 0;

    *root = NULL;
    *lines = NULL;
    if (!(b.lines = json_object()))
        return gl_err_set(err, ENOMEM, "%s: out of memory", file);
    if (!yaml_parser_initialize(&parser)) {
        json_decref(b.lines);
        return gl_err_set(err, ENOMEM, "%s: out of memory", file);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (!done && rc == 0) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = gl_err_set(err, EINVAL, "%s:%zu: YAML error: %s%s%s", file,
                            parser.problem_mark.line + 1,
                            parser.problem ? parser.problem : "malformed",
                            parser.context ? " " : "", parser.context ? parser.context : "");
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                rc = syntax(&b, &ev.start_mark, "only one YAML document is allowed", NULL);
            break;
        case YAML_ALIAS_EVENT:
            rc = syntax(&b, &ev.start_mark, "YAML aliases are not allowed in templates", NULL);
            break;
        case YAML_SCALAR_EVENT:
            rc = on_scalar(&b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            rc = on_start(&b, &ev, ev.type == YAML_MAPPING_START_EVENT);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            rc = on_end(&b, &ev);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    while (b.depth > 0) {
        struct frame *f = &b.stack[--b.depth];
        json_decref(f->node);
        free(f->tag);
        free(f->key);
    }
    if (rc == 0 && !b.root) {
        yaml_mark_t start = {0};
        rc = syntax(&b, &start, "the template is empty", NULL);
    }
    if (rc < 0) {
        json_decref(b.root);
        json_decref(b.lines);
        return rc;
    }
    *root = b.root;
    *lines = b.lines;
    return 0;
}
