/*
 * protoc-gen-kbus: the protoc plugin that turns services, (kbus.event)
 * messages and (kbus.table) messages into typed C stubs over libkbus.
 *
 * protoc runs it with a CodeGeneratorRequest on stdin and reads a
 * CodeGeneratorResponse from stdout.  Mistakes in the user's .proto are
 * answered in CodeGeneratorResponse.error with exit status 0, as the
 * plugin protocol asks; protoc then prints them and fails.  A non-zero
 * exit status means the plugin itself could not work (unreadable input,
 * out of memory, write error).
 *
 *   protoc -I. -I"$(pkg-config --variable=protodir kbus)" \
 *          --c_out=gen --kbus_out=gen shop.proto
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "emit.h"
#include "model.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

typedef Google__Protobuf__Compiler__CodeGeneratorRequest request;
typedef Google__Protobuf__Compiler__CodeGeneratorResponse response;
typedef Google__Protobuf__Compiler__CodeGeneratorResponse__File response_file;

static uint8_t *read_all(FILE *f, size_t *lenp) {
        size_t len = 0, cap = 1 << 16;
        uint8_t *data = xmalloc(cap);
        size_t n;

        while ((n = fread(data + len, 1, cap - len, f)) > 0) {
                len += n;
                if (len == cap)
                        data = xrealloc(data, cap *= 2);
        }
        if (ferror(f)) {
                free(data);
                return NULL;
        }
        *lenp = len;
        return data;
}

/*
 * Checks the comma-joined --kbus_opt values.  None are defined yet; an
 * unknown one is an error rather than silently ignored, so a typo does
 * not go unnoticed.
 */
static void check_parameters(const char *param, buf *errors) {
        const char *p = param;

        if (p == NULL)
                return;
        while (*p) {
                size_t n = strcspn(p, ",");

                if (n > 0) {
                        if (errors->len > 0)
                                buf_putc(errors, '\n');
                        buf_printf(errors,
                                   "unknown parameter \"%.*s\" "
                                   "(protoc-gen-kbus takes none)",
                                   (int)n, p);
                }
                p += n;
                if (*p == ',')
                        p++;
        }
}

static const file_proto *find_file(const request *req, const char *name) {
        for (size_t i = 0; i < req->n_proto_file; i++)
                if (strcmp(req->proto_file[i]->name, name) == 0)
                        return req->proto_file[i];
        return NULL;
}

static void add_output(response *resp, char *name, char *content) {
        response_file *f = xmalloc(sizeof *f);

        google__protobuf__compiler__code_generator_response__file__init(f);
        f->name = name;
        f->content = content;
        resp->file =
            xrealloc(resp->file, (resp->n_file + 1) * sizeof *resp->file);
        resp->file[resp->n_file++] = f;
}

/* Generates every requested file into \p resp, or reports in \p errors. */
static void generate(const request *req, response *resp, buf *errors,
                     buf *warnings) {
        registry reg;

        check_parameters(req->parameter, errors);
        if (errors->len > 0)
                return;
        registry_build(&reg, req);
        for (size_t i = 0; i < req->n_file_to_generate; i++) {
                const file_proto *fd = find_file(req, req->file_to_generate[i]);
                mfile mf;
                buf h, c;

                if (fd == NULL) {
                        if (errors->len > 0)
                                buf_putc(errors, '\n');
                        buf_printf(errors, "%s: not in the request",
                                   req->file_to_generate[i]);
                        continue;
                }
                if (model_build(&mf, &reg, fd, errors, warnings) == 0) {
                        buf_init(&h);
                        buf_init(&c);
                        emit_header(&h, &mf);
                        emit_source(&c, &mf);
                        add_output(resp, xasprintf("%s.kbus.h", mf.base),
                                   buf_steal(&h));
                        add_output(resp, xasprintf("%s.kbus.c", mf.base),
                                   buf_steal(&c));
                }
                model_fini(&mf);
        }
        registry_fini(&reg);
        /* One error stops the whole run, as with protoc's own checks: no
         * half-generated set of files. */
        if (errors->len > 0) {
                for (size_t i = 0; i < resp->n_file; i++) {
                        free(resp->file[i]->name);
                        free(resp->file[i]->content);
                        free(resp->file[i]);
                }
                free(resp->file);
                resp->file = NULL;
                resp->n_file = 0;
        }
}

int main(int argc, char **argv) {
        request *req;
        response resp =
            GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__INIT;
        buf errors, warnings;
        uint8_t *in, *out;
        size_t in_len, out_len;
        int rc = 0;

        if (argc > 1) {
                if (strcmp(argv[1], "--version") == 0) {
                        printf("protoc-gen-kbus %s\n", PACKAGE_VERSION);
                        return 0;
                }
                fprintf(stderr,
                        "usage: protoc --plugin=protoc-gen-kbus "
                        "--kbus_out=DIR FILE.proto...\n"
                        "protoc-gen-kbus is a protoc plugin: it reads a "
                        "CodeGeneratorRequest on stdin.\n");
                return 2;
        }

        in = read_all(stdin, &in_len);
        if (in == NULL) {
                perror("protoc-gen-kbus: reading stdin");
                return 1;
        }
        req = google__protobuf__compiler__code_generator_request__unpack(
            NULL, in_len, in);
        free(in);
        if (req == NULL) {
                fputs("protoc-gen-kbus: stdin is not a CodeGeneratorRequest\n",
                      stderr);
                return 1;
        }

        buf_init(&errors);
        buf_init(&warnings);
        generate(req, &resp, &errors, &warnings);
        /* protoc shows a plugin's stderr; the protocol has no warnings. */
        if (errors.len == 0 && warnings.len > 0)
                fputs(buf_str(&warnings), stderr);
        if (errors.len > 0)
                resp.error = (char *)buf_str(&errors);

        out_len =
            google__protobuf__compiler__code_generator_response__get_packed_size(
                &resp);
        out = xmalloc(out_len);
        google__protobuf__compiler__code_generator_response__pack(&resp, out);
        if (fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout) != 0) {
                perror("protoc-gen-kbus: writing stdout");
                rc = 1;
        }

        free(out);
        for (size_t i = 0; i < resp.n_file; i++) {
                free(resp.file[i]->name);
                free(resp.file[i]->content);
                free(resp.file[i]);
        }
        free(resp.file);
        buf_fini(&errors);
        buf_fini(&warnings);
        google__protobuf__compiler__code_generator_request__free_unpacked(req,
                                                                          NULL);
        return rc;
}
