/* Generated from hello.proto by protoc-gen-kbus. DO NOT EDIT. */
#include "hello.kbus.h"

/* hello.v1.Greeter */

static int
hello_v1_greeter_say_hello__dispatch(const void *handlers, kbus_call *call,
                                     const ProtobufCMessage *req, void *arg)
{
        const hello_v1_greeter_handlers *h = handlers;

        if (h->say_hello == NULL)
                return -1;
        h->say_hello(call, (const Hello__V1__HelloRequest *)req, arg);
        return 0;
}

static void
hello_v1_greeter_say_hello__complete(kbus_fn cb, kbus_status status,
                                     const char *message,
                                     const ProtobufCMessage *reply, void *arg)
{
        ((hello_v1_greeter_say_hello_cb)cb)(status, message,
                        (const Hello__V1__HelloReply *)reply, arg);
}

static const kbus_method_desc hello_v1_greeter__methods[1] = {
        {
                .name = "SayHello",
                .path = "/hello.v1.Greeter/SayHello",
                .input = &hello__v1__hello_request__descriptor,
                .output = &hello__v1__hello_reply__descriptor,
                .flags = 0,
                .timeout_ms = 0,
                .key_field = NULL,
                .dispatch = hello_v1_greeter_say_hello__dispatch,
                .complete = hello_v1_greeter_say_hello__complete,
        },
};

const kbus_service_desc hello_v1_greeter__service = {
        .name = "hello.v1.Greeter",
        .topic = "hello.v1.Greeter",
        .n_methods = 1,
        .methods = hello_v1_greeter__methods,
};

int
hello_v1_greeter_say_hello(kbus_runtime *rt, const Hello__V1__HelloRequest *req,
                           const kbus_call_opts *opts,
                           hello_v1_greeter_say_hello_cb cb, void *arg)
{
        return kbus_call_start(rt, &hello_v1_greeter__service,
                               &hello_v1_greeter__methods[0],
                               (const ProtobufCMessage *)req, opts, (kbus_fn)cb,
                               arg);
}

int
hello_v1_greeter_say_hello_reply(kbus_call *call,
                                 const Hello__V1__HelloReply *reply)
{
        return kbus_call_reply(call, (const ProtobufCMessage *)reply);
}

int
hello_v1_greeter_serve(kbus_runtime *rt, const hello_v1_greeter_handlers *h,
                       void *arg)
{
        return kbus_serve(rt, &hello_v1_greeter__service, h, sizeof *h,
                          arg);
}

/* event hello.v1.Greeted */

static void
hello_v1_greeted__deliver(kbus_fn fn, kbus_call *call,
                          const ProtobufCMessage *ev, void *arg)
{
        ((hello_v1_greeted_handler)fn)(call, (const Hello__V1__Greeted *)ev,
                                       arg);
}

const kbus_event_desc hello_v1_greeted__event = {
        .type = "hello.v1.Greeted",
        .topic = "hello.v1.Greeted",
        .key_field = NULL,
        .message = &hello__v1__greeted__descriptor,
        .flags = 0,
        .deliver = hello_v1_greeted__deliver,
};

int
hello_v1_greeted_publish(kbus_runtime *rt, const Hello__V1__Greeted *ev)
{
        return kbus_publish(rt, &hello_v1_greeted__event,
                            (const ProtobufCMessage *)ev);
}

int
hello_v1_greeted_publish_from(kbus_call *call, const Hello__V1__Greeted *ev)
{
        return kbus_call_publish(call, &hello_v1_greeted__event,
                                 (const ProtobufCMessage *)ev);
}

int
hello_v1_greeted_publish_confirmed(kbus_runtime *rt,
                                   const Hello__V1__Greeted *ev,
                                   kbus_delivery_fn cb, void *arg)
{
        return kbus_publish_confirmed(rt, &hello_v1_greeted__event,
                                      (const ProtobufCMessage *)ev, cb,
                                      arg);
}

int
hello_v1_greeted_subscribe(kbus_runtime *rt, const char *group,
                           hello_v1_greeted_handler fn, void *arg)
{
        return kbus_subscribe(rt, &hello_v1_greeted__event, group, (kbus_fn)fn,
                              arg);
}
