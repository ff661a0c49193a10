/* Generated from nopkg.proto by protoc-gen-kbus. DO NOT EDIT. */
#include "nopkg.kbus.h"

/* Directory */

static int
directory_register__dispatch(const void *handlers, kbus_call *call,
                             const ProtobufCMessage *req, void *arg)
{
        const directory_handlers *h = handlers;

        if (h->register_ == NULL)
                return -1;
        h->register_(call, (const Registry__Entry *)req, arg);
        return 0;
}

static void
directory_register__complete(kbus_fn cb, kbus_status status,
                             const char *message, const ProtobufCMessage *reply,
                             void *arg)
{
        ((directory_register_cb)cb)(status, message, (const Registry *)reply,
                                    arg);
}

static int
directory_switch__dispatch(const void *handlers, kbus_call *call,
                           const ProtobufCMessage *req, void *arg)
{
        const directory_handlers *h = handlers;

        if (h->switch_ == NULL)
                return -1;
        h->switch_(call, (const Registry *)req, arg);
        return 0;
}

static void
directory_switch__complete(kbus_fn cb, kbus_status status, const char *message,
                           const ProtobufCMessage *reply, void *arg)
{
        ((directory_switch_cb)cb)(status, message, (const Registry *)reply,
                                  arg);
}

static int
directory_bool__dispatch(const void *handlers, kbus_call *call,
                         const ProtobufCMessage *req, void *arg)
{
        const directory_handlers *h = handlers;

        if (h->bool_ == NULL)
                return -1;
        h->bool_(call, (const Registry *)req, arg);
        return 0;
}

static void
directory_bool__complete(kbus_fn cb, kbus_status status, const char *message,
                         const ProtobufCMessage *reply, void *arg)
{
        ((directory_bool_cb)cb)(status, message, (const Registry__Entry *)reply,
                                arg);
}

static const kbus_method_desc directory__methods[3] = {
        {
                .name = "Register",
                .path = "/Directory/Register",
                .input = &registry__entry__descriptor,
                .output = &registry__descriptor,
                .flags = 0,
                .timeout_ms = 0,
                .key_field = NULL,
                .dispatch = directory_register__dispatch,
                .complete = directory_register__complete,
        },
        {
                .name = "Switch",
                .path = "/Directory/Switch",
                .input = &registry__descriptor,
                .output = &registry__descriptor,
                .flags = 0,
                .timeout_ms = 0,
                .key_field = NULL,
                .dispatch = directory_switch__dispatch,
                .complete = directory_switch__complete,
        },
        {
                .name = "Bool",
                .path = "/Directory/Bool",
                .input = &registry__descriptor,
                .output = &registry__entry__descriptor,
                .flags = 0,
                .timeout_ms = 0,
                .key_field = NULL,
                .dispatch = directory_bool__dispatch,
                .complete = directory_bool__complete,
        },
};

const kbus_service_desc directory__service = {
        .name = "Directory",
        .topic = "Directory",
        .n_methods = 3,
        .methods = directory__methods,
};

int
directory_register(kbus_runtime *rt, const Registry__Entry *req,
                   const kbus_call_opts *opts, directory_register_cb cb,
                   void *arg)
{
        return kbus_call_start(rt, &directory__service, &directory__methods[0],
                               (const ProtobufCMessage *)req, opts, (kbus_fn)cb,
                               arg);
}

int
directory_register_reply(kbus_call *call, const Registry *reply)
{
        return kbus_call_reply(call, (const ProtobufCMessage *)reply);
}

int
directory_switch(kbus_runtime *rt, const Registry *req,
                 const kbus_call_opts *opts, directory_switch_cb cb, void *arg)
{
        return kbus_call_start(rt, &directory__service, &directory__methods[1],
                               (const ProtobufCMessage *)req, opts, (kbus_fn)cb,
                               arg);
}

int
directory_switch_reply(kbus_call *call, const Registry *reply)
{
        return kbus_call_reply(call, (const ProtobufCMessage *)reply);
}

int
directory_bool(kbus_runtime *rt, const Registry *req,
               const kbus_call_opts *opts, directory_bool_cb cb, void *arg)
{
        return kbus_call_start(rt, &directory__service, &directory__methods[2],
                               (const ProtobufCMessage *)req, opts, (kbus_fn)cb,
                               arg);
}

int
directory_bool_reply(kbus_call *call, const Registry__Entry *reply)
{
        return kbus_call_reply(call, (const ProtobufCMessage *)reply);
}

int
directory_serve(kbus_runtime *rt, const directory_handlers *h, void *arg)
{
        return kbus_serve(rt, &directory__service, h, sizeof *h, arg);
}

/* Empty */

const kbus_service_desc empty__service = {
        .name = "Empty",
        .topic = "Empty",
        .n_methods = 0,
        .methods = NULL,
};

/* event Registry.Entry */

static void
registry_entry__deliver(kbus_fn fn, kbus_call *call, const ProtobufCMessage *ev,
                        void *arg)
{
        ((registry_entry_handler)fn)(call, (const Registry__Entry *)ev,
                                     arg);
}

const kbus_event_desc registry_entry__event = {
        .type = "Registry.Entry",
        .topic = "Registry.Entry",
        .key_field = "default",
        .message = &registry__entry__descriptor,
        .flags = 0,
        .deliver = registry_entry__deliver,
};

int
registry_entry_publish(kbus_runtime *rt, const Registry__Entry *ev)
{
        return kbus_publish(rt, &registry_entry__event,
                            (const ProtobufCMessage *)ev);
}

int
registry_entry_publish_from(kbus_call *call, const Registry__Entry *ev)
{
        return kbus_call_publish(call, &registry_entry__event,
                                 (const ProtobufCMessage *)ev);
}

int
registry_entry_publish_confirmed(kbus_runtime *rt, const Registry__Entry *ev,
                                 kbus_delivery_fn cb, void *arg)
{
        return kbus_publish_confirmed(rt, &registry_entry__event,
                                      (const ProtobufCMessage *)ev, cb,
                                      arg);
}

int
registry_entry_subscribe(kbus_runtime *rt, const char *group,
                         registry_entry_handler fn, void *arg)
{
        return kbus_subscribe(rt, &registry_entry__event, group, (kbus_fn)fn,
                              arg);
}
