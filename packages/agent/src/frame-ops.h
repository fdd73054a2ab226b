/*
 * GENERATED from packages/engine/src/agent/frames.ts by `node scripts/gen-contract.mjs`.
 * Do not edit: change frames.ts and regenerate (a test fails when the two disagree).
 */
#ifndef MITOS_FRAME_OPS_H
#define MITOS_FRAME_OPS_H

#define FRAME_MAX 16777216u
#define DATA_CHUNK 65536u

/* client -> agent: operations */
#define OP_EXEC 'E'
#define OP_READ 'r'
#define OP_WRITE 'w'
#define OP_LIST 'l'
#define OP_STAT 's'
#define OP_MKDIR 'm'
#define OP_REMOVE 'd'
#define OP_PING 'P'
#define OP_IDENTITY 'H'
#define OP_CONNECT_TCP 'T'
#define OP_CONNECT_UNIX 'U'
#define OP_PROCESSES 'Q'
#define OP_SIGNAL 'k'
#define OP_MUX 'M'
/* client -> agent: during an operation */
#define IN_STDIN 'I'
#define IN_STDIN_CLOSE 'C'
#define IN_RESIZE 'R'
#define IN_SIGNAL 'K'
#define IN_DATA 'D'
#define IN_END 'Z'
/* agent -> client */
#define OUT_PID 'p'
#define OUT_STDOUT 'o'
#define OUT_STDERR 'e'
#define OUT_EXIT 'x'
#define OUT_DATA 'D'
#define OUT_ENTRY 'L'
#define OUT_OK 'Z'
#define OUT_FAIL 'F'

/* exec flags (the first field of OP_EXEC) */
#define EXEC_FLAG_PTY 1
#define EXEC_FLAG_STDIN 2
#define EXEC_FLAG_DETACH_ON_CLOSE 4
#define EXEC_FLAG_USER 8
#define EXEC_FLAG_NO_PID 16

#endif
