/*
 * http_guard: checks each HTTP request's framing before libevent's evhttp
 * reads it, so that the gateway answers every bad request itself, as JSON.
 *
 * evhttp (libevent 2.1) answers some requests on its own, with an HTML
 * page and no hook to change it: a body over its limit (413), a request
 * line or header field it cannot parse (400), a method it does not serve
 * (501), an Expect it does not know (417).  The guard reads every
 * connection's bytes first, hands evhttp only whole requests that it
 * checked (a chunked body decoded, with a Content-Length), and turns a
 * request it refuses into one that http_guard_refused() recognises, so
 * that the gateway's own handler answers it.
 */
#ifndef ORDER_PIPELINE_HTTP_GUARD_H
#define ORDER_PIPELINE_HTTP_GUARD_H
#include <stdbool.h>
#include <stddef.h>

#include <event2/http.h>

/*
 * Puts a guard in front of every connection \p http accepts from now on:
 * requests whose method is not in \p methods (EVHTTP_REQ_* bits, as for
 * evhttp_set_allowed_methods()), whose body is over \p max_body bytes, or
 * that are malformed are refused.  Call once, before the server accepts
 * connections; it sets the server's bufferevent callback
 * (evhttp_set_bevcb) and its maximum body size.
 */
void http_guard_attach(struct evhttp *http, unsigned methods, size_t max_body);

/*
 * True if \p req stands for a request the guard refused; then *code is
 * the HTTP status to answer with and *message says why.  The connection
 * closes after the answer.
 */
bool http_guard_refused(struct evhttp_request *req, int *code,
                        const char **message);

#endif
