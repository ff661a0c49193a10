/* Generated from cpackage.proto by protoc-gen-kbus. DO NOT EDIT. */
#include "cpackage.kbus.h"

/* renamed.pkg.Clock */

static int
renamed_pkg_clock_now__dispatch(const void *handlers, kbus_call *call,
                                const ProtobufCMessage *req, void *arg)
{
        const renamed_pkg_clock_handlers *h = handlers;

        if (h->now == NULL)
                return -1;
        h->now(call, (const OtherName__Tick *)req, arg);
        return 0;
}

static void
renamed_pkg_clock_now__complete(kbus_fn cb, kbus_status status,
                                const char *message,
                                const ProtobufCMessage *reply, void *arg)
{
        ((renamed_pkg_clock_now_cb)cb)(status, message,
                                       (const OtherName__Tick *)reply, arg);
}

static const kbus_method_desc renamed_pkg_clock__methods[1] = {
        {
                .name = "Now",
                .path = "/renamed.pkg.Clock/Now",
                .input = &other_name__tick__descriptor,
                .output = &other_name__tick__descriptor,
                .flags = 0,
                .timeout_ms = 0,
                .key_field = NULL,
                .dispatch = renamed_pkg_clock_now__dispatch,
                .complete = renamed_pkg_clock_now__complete,
        },
};

const kbus_service_desc renamed_pkg_clock__service = {
        .name = "renamed.pkg.Clock",
        .topic = "renamed.pkg.Clock",
        .n_methods = 1,
        .methods = renamed_pkg_clock__methods,
};

int
renamed_pkg_clock_now(kbus_runtime *rt, const OtherName__Tick *req,
                      const kbus_call_opts *opts, renamed_pkg_clock_now_cb cb,
                      void *arg)
{
        return kbus_call_start(rt, &renamed_pkg_clock__service,
                               &renamed_pkg_clock__methods[0],
                               (const ProtobufCMessage *)req, opts, (kbus_fn)cb,
                               arg);
}

int
renamed_pkg_clock_now_reply(kbus_call *call, const OtherName__Tick *reply)
{
        return kbus_call_reply(call, (const ProtobufCMessage *)reply);
}

int
renamed_pkg_clock_serve(kbus_runtime *rt, const renamed_pkg_clock_handlers *h,
                        void *arg)
{
        return kbus_serve(rt, &renamed_pkg_clock__service, h, sizeof *h,
                          arg);
}

/* event renamed.pkg.Tick */

static void
renamed_pkg_tick__deliver(kbus_fn fn, kbus_call *call,
                          const ProtobufCMessage *ev, void *arg)
{
        ((renamed_pkg_tick_handler)fn)(call, (const OtherName__Tick *)ev,
                                       arg);
}

const kbus_event_desc renamed_pkg_tick__event = {
        .type = "renamed.pkg.Tick",
        .topic = "renamed.pkg.Tick",
        .key_field = NULL,
        .message = &other_name__tick__descriptor,
        .flags = 0,
        .deliver = renamed_pkg_tick__deliver,
};

int
renamed_pkg_tick_publish(kbus_runtime *rt, const OtherName__Tick *ev)
{
        return kbus_publish(rt, &renamed_pkg_tick__event,
                            (const ProtobufCMessage *)ev);
}

int
renamed_pkg_tick_publish_from(kbus_call *call, const OtherName__Tick *ev)
{
        return kbus_call_publish(call, &renamed_pkg_tick__event,
                                 (const ProtobufCMessage *)ev);
}

int
renamed_pkg_tick_publish_confirmed(kbus_runtime *rt, const OtherName__Tick *ev,
                                   kbus_delivery_fn cb, void *arg)
{
        return kbus_publish_confirmed(rt, &renamed_pkg_tick__event,
                                      (const ProtobufCMessage *)ev, cb,
                                      arg);
}

int
renamed_pkg_tick_subscribe(kbus_runtime *rt, const char *group,
                           renamed_pkg_tick_handler fn, void *arg)
{
        return kbus_subscribe(rt, &renamed_pkg_tick__event, group, (kbus_fn)fn,
                              arg);
}
