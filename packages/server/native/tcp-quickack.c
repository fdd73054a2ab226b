/*
 * tcp_quickack(fd): sets TCP_QUICKACK on one socket, which sends an ACK the kernel was
 * delaying and leaves delayed-ACK ("pingpong") mode until the next reply. Node has no
 * setsockopt, and the option is per socket and not sticky, so the server calls this per
 * request (see src/quick-ack.ts for why). Returns 0, or the errno of setsockopt.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <node_api.h>
#include <sys/socket.h>

static napi_value tcp_quickack(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  napi_value out;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "tcp_quickack(fd): fd must be an integer");
    return NULL;
  }
  int one = 1;
  int rc = setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one) == 0 ? 0 : errno;
  napi_create_int32(env, rc, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "tcpQuickAck", NAPI_AUTO_LENGTH, tcp_quickack, NULL, &fn);
  napi_set_named_property(env, exports, "tcpQuickAck", fn);
  return exports;
}
