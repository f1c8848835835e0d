/*
 * pipdu-sim: runs the PiPDU board firmware (an ATmega2560 ELF) in simavr and
 * bridges it to the world the way hardware/simulator-cli.ts does in --pty mode:
 *
 *   - UART0 <-> a pty linked at --pty <path> (byte-paced, never stalls);
 *   - relay pins (channel i on D22+i: PA0..PA7, then PC7..PC0) reported as JSON;
 *   - each current-sensor input ADCi fed a sine wave whose amplitude follows
 *     channel i's relay and its configured load;
 *   - JSON events on stdout, control lines on stdin, SIGUSR1 = reset.
 *
 * Run `pipdu-sim --help` for the options. The event and control formats are
 * documented in usage() below and in firmware/README.md.
 *
 * Checked facts about simavr 1.6 (Debian) this program relies on or works around:
 *   - The UART's STDIO flag (on by default) prints firmware output on stdout,
 *     and its POLL_SLEEP flag usleep()s whenever the firmware polls UCSR0A:
 *     both are turned off. Anything libsimavr prints with printf() goes to
 *     stderr: fd 1 is redirected there and JSON goes to a private dup of it.
 *   - simavr's UART receive FIFO (64 entries) is drained by the firmware at
 *     most one byte per uart->cycles_per_byte (it counts a parity bit: 1496
 *     cycles = 93.5 us at 115200 with U2X). Host bytes are fed one per that
 *     period from a cycle timer, only while the receiver is enabled and the
 *     FIFO is not full, so there is never an "RX buffer overrun".
 *   - avr_adc_t in 1.6 keeps only 8 input values (ADC0..ADC7) and ignores the
 *     ADC8..ADC15 IRQs (reading ADC8+ would index past its array). The mux
 *     table entries for ADC8..15 are remapped to value slots 0..7, and the
 *     value for the conversion's channel is written into that slot when the
 *     conversion starts (ADC_IRQ_OUT_TRIGGER), so every sample is exact.
 *   - The port REG_PORT/DIRECTION_ALL IRQs are "filtered" (hooks only run when
 *     the value differs from the previous raise) and avr_reset() zeroes the
 *     registers without raising them: the IRQ values are re-synced after every
 *     reset, or a re-written identical value would go unnoticed.
 *   - A watchdog reset is performed by simavr swapping avr->run for a reset
 *     callback; seeing avr->run differ from the normal run function before a
 *     step means the step is a watchdog reset.
 *   - avr_reset() keeps the EEPROM contents (they live in the eeprom module's
 *     own buffer, which reset does not touch).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>
#include <simavr/sim_io.h>
#include <simavr/sim_irq.h>
#include <simavr/sim_cycle_timers.h>
#include <simavr/sim_vcd_file.h>
#include <simavr/avr_uart.h>
#include <simavr/avr_ioport.h>
#include <simavr/avr_adc.h>
#include <simavr/avr_eeprom.h>

#define CHANNELS 16
#define FREQUENCY 16000000UL
#define VREF_MV 5000
/* Run the CPU this many cycles between two looks at the file descriptors. */
#define CHUNK_CYCLES 8000
/* Host bytes waiting to be fed; above this the pty is not read (the kernel buffers, then the writer waits). */
#define INQ_MAX (64 * 1024)
/* Firmware output waiting for a slow client; above this it is dropped, never blocking the CPU. */
#define OUTQ_MAX (256 * 1024)
/* A line longer than this is cut in the JSON events (the bytes themselves still pass). */
#define LINE_MAX_JSON 8192

static const char *prog = "pipdu-sim";

/* ------------------------------------------------------------------------ options */

static struct {
	const char *pty;
	char elf[PATH_MAX];
	const char *eeprom;
	const char *vcd;
	double loads_mA[CHANNELS];
	int active_low;
	double mv_per_a;
	double zero_mv;
	double hz;
	int exit_with_stdin;
	int realtime;
	double start_delay_ms;
	int verbose;
} opt;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pipdu-sim --pty <path> [options]\n"
		"\n"
		"Runs the PiPDU board firmware (ATmega2560 @ 16 MHz) in simavr with UART0 on a pty.\n"
		"\n"
		"  --pty <path>          create a pty linked at <path> (an old link there is replaced)\n"
		"  --elf <file>          the firmware (default: pipdu-firmware.elf next to this binary)\n"
		"  --eeprom <file>       the 4 KB EEPROM image: read at start if it exists (else erased),\n"
		"                        written when the firmware changes it and at exit\n"
		"  --load <mA>           load on every socket (default 1000)\n"
		"  --loads <mA,mA,...>   loads of sockets 0,1,... (up to 16 values)\n"
		"  --active-low          relays are energized by a low pin (default: high)\n"
		"  --mv-per-a <n>        sensor sensitivity in mV/A (default 100)\n"
		"  --zero-mv <n>         sensor output at 0 A in mV (default 2500)\n"
		"  --hz <n>              mains frequency (default 50)\n"
		"  --realtime            throttle simulated time to wall time (default: as fast as it runs)\n"
		"  --start-delay <ms>    wall time between the first client opening the pty and the CPU\n"
		"                        starting (default 50; lets the client finish its open/flush)\n"
		"  --exit-with-stdin     exit when stdin (the control channel) closes\n"
		"  --vcd <file>          write the 16 relay pins to a VCD trace\n"
		"  --verbose             more diagnostics on stderr\n"
		"\n"
		"stdout: one JSON object per line: ready, boot (cause power|reset|watchdog), relays,\n"
		"request (a host line), output (a firmware line), control (acknowledgement), crash.\n"
		"Times t_us are simulated microseconds since power-up.\n"
		"stdin: control lines: reset | load <channel> <mA> | hang | hold <ms> | exit.\n"
		"SIGUSR1 resets the CPU (EEPROM kept); SIGTERM/SIGINT exit cleanly.\n");
}

static void die_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see %s --help)\n", prog);
	va_end(ap);
	exit(2);
}

static int parse_number(const char *text, double *out)
{
	char *end;
	if (!text || !*text || isspace((unsigned char)*text))
		return -1;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || *end || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

static void parse_args(int argc, char **argv)
{
	opt.mv_per_a = 100;
	opt.zero_mv = 2500;
	opt.hz = 50;
	opt.start_delay_ms = 50;
	for (int i = 0; i < CHANNELS; i++)
		opt.loads_mA[i] = 1000;
	double load_all = -1;
	const char *loads = NULL;
	const char *elf = NULL;

	for (int i = 1; i < argc; i++) {
		char *arg = argv[i];
		char *value = NULL;
		if (strncmp(arg, "--", 2) != 0)
			die_usage("unexpected argument \"%s\"", arg);
		char name[64];
		char *eq = strchr(arg, '=');
		size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
		if (n >= sizeof name)
			die_usage("unknown option %s", arg);
		memcpy(name, arg, n);
		name[n] = 0;
		if (eq)
			value = eq + 1;

		static const char *with_value[] = {
			"--pty", "--elf", "--eeprom", "--load", "--loads", "--mv-per-a",
			"--zero-mv", "--hz", "--vcd", "--start-delay", NULL };
		int needs = 0;
		for (int k = 0; with_value[k]; k++)
			if (!strcmp(name, with_value[k]))
				needs = 1;
		if (needs && !value) {
			if (i + 1 >= argc)
				die_usage("%s needs a value", name);
			value = argv[++i];
		} else if (!needs && value) {
			die_usage("%s takes no value", name);
		}

		double num;
		if (!strcmp(name, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(name, "--pty")) {
			if (!*value)
				die_usage("--pty needs a path");
			opt.pty = value;
		} else if (!strcmp(name, "--elf")) {
			elf = value;
		} else if (!strcmp(name, "--eeprom")) {
			if (!*value)
				die_usage("--eeprom needs a file");
			opt.eeprom = value;
		} else if (!strcmp(name, "--vcd")) {
			if (!*value)
				die_usage("--vcd needs a file");
			opt.vcd = value;
		} else if (!strcmp(name, "--load")) {
			if (parse_number(value, &num) || num < 0)
				die_usage("--load must be a number of mA >= 0, got \"%s\"", value);
			load_all = num;
		} else if (!strcmp(name, "--loads")) {
			loads = value;
		} else if (!strcmp(name, "--mv-per-a")) {
			if (parse_number(value, &num) || num <= 0)
				die_usage("--mv-per-a must be a number > 0, got \"%s\"", value);
			opt.mv_per_a = num;
		} else if (!strcmp(name, "--zero-mv")) {
			if (parse_number(value, &num) || num < 0 || num > VREF_MV)
				die_usage("--zero-mv must be a number 0..%d, got \"%s\"", VREF_MV, value);
			opt.zero_mv = num;
		} else if (!strcmp(name, "--hz")) {
			if (parse_number(value, &num) || num <= 0 || num > 10000)
				die_usage("--hz must be a number > 0, got \"%s\"", value);
			opt.hz = num;
		} else if (!strcmp(name, "--start-delay")) {
			if (parse_number(value, &num) || num < 0 || num > 60000)
				die_usage("--start-delay must be 0..60000 ms, got \"%s\"", value);
			opt.start_delay_ms = num;
		} else if (!strcmp(name, "--active-low")) {
			opt.active_low = 1;
		} else if (!strcmp(name, "--exit-with-stdin")) {
			opt.exit_with_stdin = 1;
		} else if (!strcmp(name, "--realtime")) {
			opt.realtime = 1;
		} else if (!strcmp(name, "--verbose")) {
			opt.verbose = 1;
		} else {
			die_usage("unknown option %s", name);
		}
	}
	if (!opt.pty)
		die_usage("--pty <path> is required");
	if (load_all >= 0)
		for (int i = 0; i < CHANNELS; i++)
			opt.loads_mA[i] = load_all;
	if (loads) {
		char *copy = strdup(loads);
		int count = 0;
		/* strtok_r would skip empty fields: walk the commas by hand. */
		char *p = copy;
		for (;;) {
			char *comma = strchr(p, ',');
			if (comma)
				*comma = 0;
			double num;
			if (count >= CHANNELS)
				die_usage("--loads takes at most %d values", CHANNELS);
			if (parse_number(p, &num) || num < 0)
				die_usage("--loads must be comma separated mA values >= 0, got \"%s\"", loads);
			opt.loads_mA[count++] = num;
			if (!comma)
				break;
			p = comma + 1;
		}
		free(copy);
	}
	if (elf) {
		snprintf(opt.elf, sizeof opt.elf, "%s", elf);
	} else {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n <= 0)
			snprintf(self, sizeof self, "%s", argv[0]);
		else
			self[n] = 0;
		snprintf(opt.elf, sizeof opt.elf, "%s/pipdu-firmware.elf", dirname(self));
	}
}

/* ------------------------------------------------------------------------ JSON out */

static int json_fd = -1;

typedef struct {
	char *p;
	size_t len, cap;
} sbuf_t;

static void sb_grow(sbuf_t *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	b->p = realloc(b->p, cap);
	if (!b->p) {
		perror("realloc");
		exit(1);
	}
	b->cap = cap;
}

static void sb_add(sbuf_t *b, const char *s, size_t n)
{
	sb_grow(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char tmp[512];
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof tmp)
		n = sizeof tmp - 1;
	sb_add(b, tmp, n);
}

/* A JSON string: " and \ escaped, control bytes, DEL and every byte >= 0x80 as \u00XX
 * (so any byte sequence gives valid JSON; a reader gets one char per byte, like latin1). */
static void sb_json_string(sbuf_t *b, const uint8_t *s, size_t n)
{
	sb_grow(b, n * 6 + 2);
	char *o = b->p + b->len;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = c;
		} else if (c == '\n') {
			*o++ = '\\'; *o++ = 'n';
		} else if (c == '\r') {
			*o++ = '\\'; *o++ = 'r';
		} else if (c == '\t') {
			*o++ = '\\'; *o++ = 't';
		} else if (c < 0x20 || c >= 0x7f) {
			static const char hex[] = "0123456789abcdef";
			*o++ = '\\'; *o++ = 'u'; *o++ = '0'; *o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		} else {
			*o++ = c;
		}
	}
	*o++ = '"';
	b->len = o - b->p;
	b->p[b->len] = 0;
}

static void json_emit(sbuf_t *b)
{
	sb_add(b, "}\n", 2);
	size_t off = 0;
	while (off < b->len) {
		ssize_t n = write(json_fd, b->p + off, b->len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = { json_fd, POLLOUT, 0 };
				poll(&p, 1, 100);
				continue;
			}
			break; /* EPIPE: nobody listens; keep running */
		}
		off += n;
	}
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ------------------------------------------------------------------------ simulator state */

static avr_t *avr;
static avr_run_t normal_run;
static avr_uart_t *uart0;
static avr_adc_t *adc;
static avr_eeprom_t *eeprom;
static avr_ioport_t *port_a, *port_c;
static avr_adc_mux_t adc_mux_orig[64];
static avr_vcd_t vcd;
static int vcd_on;

static uint64_t sim_us(void)
{
	return avr->cycle / (FREQUENCY / 1000000);
}

/* ---- pty */
static int pty_master = -1, pty_slave = -1, ino_fd = -1;
static char pty_name[128];
static char link_path[PATH_MAX];
static int link_made;
static int clients;          /* how many opens of the slave by others are open now */
static int client_ever;      /* a client opened the pty at least once */

typedef struct {
	uint8_t *p;
	size_t head, len, cap;
} queue_t;

static queue_t inq, outq;

static void q_push(queue_t *q, const uint8_t *s, size_t n, size_t max)
{
	if (q->len + n > max)
		n = max > q->len ? max - q->len : 0;
	if (!n)
		return;
	if (q->head && q->head + q->len + n > q->cap) {
		memmove(q->p, q->p + q->head, q->len);
		q->head = 0;
	}
	if (q->head + q->len + n > q->cap) {
		size_t cap = q->cap ? q->cap : 4096;
		while (cap < q->head + q->len + n)
			cap *= 2;
		q->p = realloc(q->p, cap);
		q->cap = cap;
	}
	memcpy(q->p + q->head + q->len, s, n);
	q->len += n;
}

static void q_drop(queue_t *q, size_t n)
{
	if (n >= q->len) {
		q->head = q->len = 0;
	} else {
		q->head += n;
		q->len -= n;
	}
}

/* ---- line assembly for the request/output events */
typedef struct {
	uint8_t buf[LINE_MAX_JSON];
	size_t len;
	uint64_t t_first_us;
} line_t;

static line_t host_line, fw_line;
static uint64_t dropped_out;

static void flush_output(void);

/* Bytes the firmware wrote to UDR0. */
static void uart_out_hook(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	(void)param;
	uint8_t c = value & 0xff;
	uint64_t now = sim_us();
	if (c == '\n') {
		sbuf_t b = {0};
		sb_printf(&b, "{\"event\":\"output\",\"line\":");
		sb_json_string(&b, fw_line.buf, fw_line.len);
		sb_printf(&b, ",\"t_first_us\":%llu,\"t_us\":%llu",
			(unsigned long long)(fw_line.len ? fw_line.t_first_us : now),
			(unsigned long long)now);
		json_emit(&b);
		fw_line.len = 0;
	} else {
		if (fw_line.len == 0)
			fw_line.t_first_us = now;
		if (fw_line.len < sizeof fw_line.buf)
			fw_line.buf[fw_line.len++] = c;
	}
	/* Nobody has the port open: the byte is lost, as on a real serial line. */
	if (clients > 0) {
		if (outq.len >= OUTQ_MAX)
			dropped_out++;
		else
			q_push(&outq, &c, 1, OUTQ_MAX);
	}
}

static int feed_idle = 1; /* nothing to feed since the last byte: the next one starts a burst */

/* Cycle timer: one host byte per UART byte time, only when the firmware's receiver can take it. */
static avr_cycle_count_t uart_feed_timer(struct avr_t *a, avr_cycle_count_t when, void *param)
{
	(void)param;
	avr_cycle_count_t period = uart0->cycles_per_byte;
	/* Never faster than 10 bits at 115200 baud, whatever the firmware configured. */
	if (period < FREQUENCY / 11520)
		period = FREQUENCY / 11520;
	if (inq.len == 0) {
		feed_idle = 1;
		return when + period;
	}
	if (feed_idle) {
		/* The host's UART is not clocked by the board's crystal: a burst's first start bit
		 * comes at any phase of the board's clock, not on a grid since power-up. */
		feed_idle = 0;
		avr_cycle_count_t phase = (avr_cycle_count_t)(random() % (long)period);
		if (phase)
			return when + phase;
	}
	int rx_enabled = avr_regbit_get(a, uart0->rxen);
	unsigned fill = ((unsigned)uart0->input.write + uart_fifo_fifo_size - uart0->input.read) &
			(uart_fifo_fifo_size - 1);
	if (!rx_enabled || fill >= uart_fifo_fifo_size - 2)
		return when + period;
	uint8_t c = inq.p[inq.head];
	q_drop(&inq, 1);
	avr_raise_irq(uart0->io.irq + UART_IRQ_INPUT, c);
	if (c == '\n') {
		size_t len = host_line.len;
		if (len && host_line.buf[len - 1] == '\r')
			len--;
		if (len) {
			sbuf_t b = {0};
			sb_printf(&b, "{\"event\":\"request\",\"line\":");
			sb_json_string(&b, host_line.buf, len);
			sb_printf(&b, ",\"t_us\":%llu", (unsigned long long)sim_us());
			json_emit(&b);
		}
		host_line.len = 0;
	} else if (host_line.len < sizeof host_line.buf) {
		host_line.buf[host_line.len++] = c;
	}
	return when + period;
}

/* ---- relays
 * Decision: a relay counts as energized only while its pin is an OUTPUT (DDR bit
 * set) driven to the ON level (high, or low with --active-low). An input pin,
 * with or without its pull-up, does not drive a relay module's input, so it
 * counts as off for both polarities; so do all pins at reset (they are inputs).
 */
static uint16_t relay_mask;

static int relay_pin(int ch, avr_ioport_t **port)
{
	if (ch < 8) {
		*port = port_a; /* D22..D29 = PA0..PA7 */
		return ch;
	}
	*port = port_c; /* D30..D37 = PC7..PC0 */
	return 7 - (ch - 8);
}

static uint16_t decode_relays(int ddr_a, int ddr_c)
{
	uint8_t da = ddr_a >= 0 ? ddr_a : avr->data[port_a->r_ddr];
	uint8_t dc = ddr_c >= 0 ? ddr_c : avr->data[port_c->r_ddr];
	uint8_t pa = avr->data[port_a->r_port];
	uint8_t pc = avr->data[port_c->r_port];
	uint16_t mask = 0;
	for (int ch = 0; ch < CHANNELS; ch++) {
		avr_ioport_t *port;
		int bit = relay_pin(ch, &port);
		uint8_t ddr = port == port_a ? da : dc;
		uint8_t val = port == port_a ? pa : pc;
		int output = (ddr >> bit) & 1;
		int level = (val >> bit) & 1;
		if (output && level == (opt.active_low ? 0 : 1))
			mask |= 1 << ch;
	}
	return mask;
}

static void relays_refresh(int ddr_a, int ddr_c)
{
	uint16_t mask = decode_relays(ddr_a, ddr_c);
	uint16_t changed = mask ^ relay_mask;
	if (!changed)
		return;
	relay_mask = mask;
	for (int ch = 0; ch < CHANNELS; ch++) {
		if (!(changed & (1 << ch)))
			continue;
		sbuf_t b = {0};
		sb_printf(&b, "{\"event\":\"relays\",\"mask\":\"%04X\",\"channel\":%d,\"on\":%s,\"t_us\":%llu",
			mask, ch, (mask >> ch) & 1 ? "true" : "false", (unsigned long long)sim_us());
		json_emit(&b);
	}
}

static void port_reg_hook(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	(void)value;
	(void)param;
	relays_refresh(-1, -1);
}

/* DIRECTION_ALL is raised before the DDR register is written: use the value. */
static void port_ddr_hook(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	if ((intptr_t)param == 'A')
		relays_refresh(value & 0xff, -1);
	else
		relays_refresh(-1, value & 0xff);
}

/* ---- current sensors */
static double sensor_mv(int ch, avr_cycle_count_t cycle)
{
	double mv = opt.zero_mv;
	if ((relay_mask >> ch) & 1) {
		double t = (double)cycle / FREQUENCY;
		double peak_a = M_SQRT2 * opt.loads_mA[ch] / 1000.0;
		mv += opt.mv_per_a * peak_a * sin(2 * M_PI * opt.hz * t);
	}
	if (mv < 0)
		mv = 0;
	if (mv > VREF_MV)
		mv = VREF_MV;
	return mv;
}

/* A conversion starts: put the sensor's voltage at this instant into the slot it will read. */
static void adc_trigger_hook(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	(void)value;
	(void)param;
	uint8_t muxi = avr_regbit_get_array(avr, adc->mux, ARRAY_SIZE(adc->mux));
	avr_adc_mux_t m = adc_mux_orig[muxi & 63];
	if (m.kind != ADC_MUX_SINGLE || m.src >= CHANNELS)
		return;
	int ch = m.src;
	uint32_t mv = (uint32_t)lround(sensor_mv(ch, avr->cycle));
	avr_raise_irq(adc->io.irq + ADC_IRQ_ADC0 + (ch & 7), mv);
}

/* ---- EEPROM file */
static uint8_t *ee_saved;

static void eeprom_save(void)
{
	if (!opt.eeprom || !eeprom)
		return;
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof tmp, "%s.%d.tmp", opt.eeprom, (int)getpid());
	FILE *f = fopen(tmp, "wb");
	if (!f || fwrite(eeprom->eeprom, 1, eeprom->size, f) != eeprom->size || fclose(f) != 0) {
		diag("could not write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return;
	}
	if (rename(tmp, opt.eeprom) != 0) {
		diag("could not rename %s to %s: %s", tmp, opt.eeprom, strerror(errno));
		unlink(tmp);
		return;
	}
	memcpy(ee_saved, eeprom->eeprom, eeprom->size);
}

static void eeprom_check(void)
{
	if (opt.eeprom && eeprom && memcmp(ee_saved, eeprom->eeprom, eeprom->size) != 0)
		eeprom_save();
}

static void eeprom_load(void)
{
	ee_saved = malloc(eeprom->size);
	FILE *f = fopen(opt.eeprom, "rb");
	if (!f) {
		if (errno != ENOENT) {
			diag("cannot read --eeprom %s: %s", opt.eeprom, strerror(errno));
			exit(1);
		}
		memset(eeprom->eeprom, 0xff, eeprom->size); /* a new chip: erased */
		memcpy(ee_saved, eeprom->eeprom, eeprom->size);
		eeprom_save();
		return;
	}
	memset(eeprom->eeprom, 0xff, eeprom->size);
	size_t n = fread(eeprom->eeprom, 1, eeprom->size, f);
	int extra = fgetc(f) != EOF;
	fclose(f);
	if (n != eeprom->size || extra)
		diag("warning: %s is %s than the %u byte EEPROM (missing bytes read as 0xFF)",
			opt.eeprom, extra ? "longer" : "shorter", eeprom->size);
	memcpy(ee_saved, eeprom->eeprom, eeprom->size);
}

/* ------------------------------------------------------------------------ CPU control */

static void sync_port_irqs(void)
{
	/* avr_reset() zeroed PORT/DDR without raising their IRQs: re-sync the filtered IRQ values. */
	avr_ioport_t *ports[2] = { port_a, port_c };
	for (int i = 0; i < 2; i++) {
		ports[i]->io.irq[IOPORT_IRQ_REG_PORT].value = avr->data[ports[i]->r_port];
		ports[i]->io.irq[IOPORT_IRQ_DIRECTION_ALL].value = avr->data[ports[i]->r_ddr];
	}
}

static void emit_boot(const char *cause)
{
	sbuf_t b = {0};
	sb_printf(&b, "{\"event\":\"boot\",\"cause\":\"%s\",\"t_us\":%llu", cause,
		(unsigned long long)sim_us());
	json_emit(&b);
}

/* After any reset (ours or the watchdog's): simavr cancelled our cycle timer and zeroed the pins. */
static void after_reset(const char *cause)
{
	avr->state = cpu_Running;
	sync_port_irqs();
	if (inq.len && opt.verbose)
		diag("%zu host bytes not yet received were lost in the reset", inq.len);
	q_drop(&inq, inq.len); /* bytes on the wire while the chip resets are lost */
	host_line.len = 0;
	avr_cycle_timer_cancel(avr, uart_feed_timer, NULL);
	avr_cycle_timer_register(avr, FREQUENCY / 11520, uart_feed_timer, NULL);
	emit_boot(cause);
	relays_refresh(-1, -1);
}

static void cpu_reset(void)
{
	avr_reset(avr);
	/* An external reset: MCUSR says EXTRF (simavr's reset leaves it 0). */
	if (avr->reset_flags.extrf.reg)
		avr_regbit_set(avr, avr->reset_flags.extrf);
	after_reset("reset");
}

/* Make the running firmware hang with interrupts off: only its watchdog (or a reset) ends it. */
static void cpu_hang(void)
{
	avr_flashaddr_t loop = (avr->flashend - 1) & ~1u; /* the last flash word */
	avr->flash[loop] = 0xff;                         /* rjmp .-2 = 0xCFFF */
	avr->flash[loop + 1] = 0xcf;
	avr->sreg[S_I] = 0;
	avr->data[R_SREG] &= ~(1 << S_I);
	avr->pc = loop;
	avr->state = cpu_Running;
}

/* ------------------------------------------------------------------------ logging from simavr */

static void sim_logger(avr_t *a, const int level, const char *fmt, va_list ap)
{
	(void)a;
	if (level > (opt.verbose ? LOG_TRACE : LOG_WARNING))
		return;
	fprintf(stderr, "%s: simavr: ", prog);
	vfprintf(stderr, fmt, ap);
}

/* ------------------------------------------------------------------------ signals */

static volatile sig_atomic_t sig_quit, sig_reset;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		sig_reset++;
	else
		sig_quit = 1;
}

/* ------------------------------------------------------------------------ control lines */

static int quit_requested;
static int cpu_started; /* a client opened the pty and the CPU runs */
static double hold_until; /* wall ms: the firmware's output waits until then (control `hold`) */
static double wall_ms(void);

static void control_ack(const char *line, const char *error)
{
	sbuf_t b = {0};
	sb_printf(&b, "{\"event\":\"control\",\"line\":");
	sb_json_string(&b, (const uint8_t *)line, strlen(line));
	if (error) {
		sb_printf(&b, ",\"ok\":false,\"error\":");
		sb_json_string(&b, (const uint8_t *)error, strlen(error));
	} else {
		sb_printf(&b, ",\"ok\":true");
	}
	json_emit(&b);
	if (error)
		diag("%s: %s", line, error);
}

static void control(char *raw)
{
	/* trim */
	while (*raw && isspace((unsigned char)*raw))
		raw++;
	size_t n = strlen(raw);
	while (n && isspace((unsigned char)raw[n - 1]))
		raw[--n] = 0;
	if (!n)
		return;
	char line[1024];
	snprintf(line, sizeof line, "%s", raw);
	char *argv[8] = { NULL };
	int argc = 0;
	char *save = NULL;
	for (char *t = strtok_r(raw, " \t", &save); t && argc < 8; t = strtok_r(NULL, " \t", &save))
		argv[argc++] = t;

	char err[160];
	const char *error = NULL;
	if (!strcmp(argv[0], "reset")) {
		if (argc != 1)
			error = "usage: reset";
		else if (cpu_started) /* before the CPU starts there is nothing to reset */
			cpu_reset();
	} else if (!strcmp(argv[0], "hang")) {
		if (argc != 1)
			error = "usage: hang";
		else if (!cpu_started)
			error = "the CPU has not started yet (no client opened the pty)";
		else
			cpu_hang();
	} else if (!strcmp(argv[0], "load")) {
		double ch, mA;
		if (argc != 3) {
			error = "usage: load <channel> <mA>";
		} else if (parse_number(argv[1], &ch) || ch != floor(ch) || ch < 0 || ch >= CHANNELS) {
			snprintf(err, sizeof err, "channel %.40s out of range 0..%d", argv[1], CHANNELS - 1);
			error = err;
		} else if (parse_number(argv[2], &mA) || mA < 0) {
			snprintf(err, sizeof err, "bad load %.40s mA", argv[2]);
			error = err;
		} else {
			opt.loads_mA[(int)ch] = mA;
		}
	} else if (!strcmp(argv[0], "hold")) {
		double ms;
		if (argc != 2 || parse_number(argv[1], &ms) || ms < 0)
			error = "usage: hold <ms>";
		else
			hold_until = wall_ms() + ms;
	} else if (!strcmp(argv[0], "exit")) {
		if (argc != 1)
			error = "usage: exit";
		else
			quit_requested = 1;
	} else {
		error = "unknown control line (reset, load <channel> <mA>, hang, hold <ms>, exit)";
	}
	control_ack(line, error);
}

static char ctl_buf[4096];
static size_t ctl_len;
static int stdin_open = 1;

static void read_stdin(void)
{
	char tmp[1024];
	ssize_t n = read(0, tmp, sizeof tmp);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		n = 0;
	}
	if (n == 0) {
		stdin_open = 0;
		if (ctl_len) {
			ctl_buf[ctl_len] = 0;
			ctl_len = 0;
			control(ctl_buf);
		}
		if (opt.exit_with_stdin)
			quit_requested = 1;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (tmp[i] == '\n') {
			ctl_buf[ctl_len] = 0;
			ctl_len = 0;
			control(ctl_buf);
		} else if (ctl_len < sizeof ctl_buf - 1) {
			ctl_buf[ctl_len++] = tmp[i];
		}
	}
}

/* ------------------------------------------------------------------------ pty */

static void pty_setup(void)
{
	struct termios t;
	memset(&t, 0, sizeof t);
	cfmakeraw(&t);
	cfsetispeed(&t, B115200);
	cfsetospeed(&t, B115200);
	if (openpty(&pty_master, &pty_slave, pty_name, &t, NULL) != 0) {
		diag("openpty: %s", strerror(errno));
		exit(1);
	}
	fcntl(pty_master, F_SETFL, fcntl(pty_master, F_GETFL) | O_NONBLOCK);
	fcntl(pty_master, F_SETFD, FD_CLOEXEC);
	fcntl(pty_slave, F_SETFD, FD_CLOEXEC);
	/* Our own slave fd stays open for the whole run: the pty survives clients closing and
	 * reopening. Clients are counted with inotify on the slave device (IN_OPEN / IN_CLOSE),
	 * which also tells when the first one opened (the CPU is held until then). */
	ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ino_fd < 0 || inotify_add_watch(ino_fd, pty_name, IN_OPEN | IN_CLOSE) < 0) {
		diag("inotify on %s: %s", pty_name, strerror(errno));
		exit(1);
	}

	/* The link: an absolute path in the ready event, an old link replaced. */
	if (opt.pty[0] == '/') {
		snprintf(link_path, sizeof link_path, "%s", opt.pty);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof cwd)) {
			diag("getcwd: %s", strerror(errno));
			exit(1);
		}
		if ((size_t)snprintf(link_path, sizeof link_path, "%.*s/%s", PATH_MAX / 2, cwd, opt.pty) >=
				sizeof link_path) {
			diag("--pty path too long");
			exit(2);
		}
	}
	struct stat st;
	if (lstat(link_path, &st) == 0) {
		if (!S_ISLNK(st.st_mode)) {
			diag("%s exists and is not a symlink: refusing to replace it", link_path);
			exit(2);
		}
		diag("replacing the old link %s", link_path);
		unlink(link_path);
	}
	if (symlink(pty_name, link_path) != 0) {
		diag("cannot create the link %s: %s", link_path, strerror(errno));
		exit(1);
	}
	link_made = 1;
}

static void pty_remove_link(void)
{
	if (!link_made)
		return;
	char target[256];
	ssize_t n = readlink(link_path, target, sizeof target - 1);
	if (n > 0) {
		target[n] = 0;
		if (!strcmp(target, pty_name))
			unlink(link_path);
	}
	link_made = 0;
}

static void read_inotify(void)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(ino_fd, buf, sizeof buf);
		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			if (e->mask & IN_OPEN) {
				clients++;
				client_ever = 1;
			}
			if (e->mask & IN_CLOSE) {
				if (clients > 0)
					clients--;
				if (clients == 0) {
					/* Nobody listens: what the firmware sent and nobody read is gone,
					 * as on a real port (the next client must not read stale lines). */
					q_drop(&outq, outq.len);
					tcflush(pty_slave, TCIFLUSH);
				}
			}
			if (e->mask & IN_Q_OVERFLOW)
				clients = clients ? clients : 1;
			p += sizeof *e + e->len;
		}
	}
}

static void read_master(void)
{
	uint8_t buf[4096];
	while (inq.len < INQ_MAX) {
		size_t want = INQ_MAX - inq.len;
		if (want > sizeof buf)
			want = sizeof buf;
		ssize_t n = read(pty_master, buf, want);
		if (n <= 0)
			return; /* EAGAIN; EIO cannot happen while we hold the slave */
		q_push(&inq, buf, n, INQ_MAX);
	}
}

static void flush_output(void)
{
	if (wall_ms() < hold_until)
		return;
	while (outq.len) {
		ssize_t n = write(pty_master, outq.p + outq.head, outq.len);
		if (n <= 0)
			return;
		q_drop(&outq, n);
	}
}

/* ------------------------------------------------------------------------ setup */

static avr_io_t *find_io(const char *kind, char name)
{
	for (avr_io_t *io = avr->io_port; io; io = io->next) {
		if (strcmp(io->kind, kind))
			continue;
		if (!strcmp(kind, "uart") && ((avr_uart_t *)io)->name != name)
			continue;
		if (!strcmp(kind, "port") && ((avr_ioport_t *)io)->name != name)
			continue;
		return io;
	}
	return NULL;
}

static void sim_setup(void)
{
	if (access(opt.elf, R_OK) != 0) {
		diag("cannot read the firmware %s: %s (build it with `make -C firmware`, or pass --elf)",
			opt.elf, strerror(errno));
		exit(1);
	}
	/* An ELF for the AVR (e_machine 83)? elf_read_firmware() would happily load others. */
	unsigned char hdr[20] = { 0 };
	FILE *ef = fopen(opt.elf, "rb");
	size_t got = ef ? fread(hdr, 1, sizeof hdr, ef) : 0;
	if (ef)
		fclose(ef);
	if (got < sizeof hdr || memcmp(hdr, "\177ELF", 4) != 0 || hdr[4] != 1 /* 32 bit */ ||
			hdr[5] != 1 /* little endian */ || (hdr[18] | hdr[19] << 8) != 83 /* EM_AVR */) {
		diag("%s is not an AVR ELF file", opt.elf);
		exit(1);
	}
	elf_firmware_t fw;
	memset(&fw, 0, sizeof fw);
	/* elf_read_firmware() printf()s "Loaded ... .text": keep that out of the way unless --verbose. */
	int saved_out = -1;
	if (!opt.verbose) {
		int devnull = open("/dev/null", O_WRONLY);
		saved_out = dup(1);
		if (devnull >= 0) {
			dup2(devnull, 1);
			close(devnull);
		}
	}
	int loaded = elf_read_firmware(opt.elf, &fw);
	if (saved_out >= 0) {
		fflush(stdout);
		dup2(saved_out, 1);
		close(saved_out);
	}
	if (loaded != 0 || fw.flashsize == 0) {
		diag("%s is not a loadable AVR ELF file", opt.elf);
		exit(1);
	}
	/* Arduino ELFs record neither the MCU nor the clock. */
	snprintf(fw.mmcu, sizeof fw.mmcu, "atmega2560");
	fw.frequency = FREQUENCY;
	fw.vcc = fw.avcc = fw.aref = VREF_MV;
	avr = avr_make_mcu_by_name(fw.mmcu);
	if (!avr) {
		diag("simavr does not know the atmega2560");
		exit(1);
	}
	avr_global_logger_set(sim_logger);
	avr_init(avr);
	avr->log = opt.verbose ? LOG_TRACE : LOG_WARNING;
	if (fw.flashsize > avr->flashend + 1) {
		diag("%s: %u bytes of code do not fit the atmega2560's flash", opt.elf, fw.flashsize);
		exit(1);
	}
	avr_load_firmware(avr, &fw);
	avr->frequency = FREQUENCY;
	avr->vcc = avr->avcc = avr->aref = VREF_MV;
	normal_run = avr->run;

	uart0 = (avr_uart_t *)find_io("uart", '0');
	adc = (avr_adc_t *)find_io("adc", 0);
	eeprom = (avr_eeprom_t *)find_io("eeprom", 0);
	port_a = (avr_ioport_t *)find_io("port", 'A');
	port_c = (avr_ioport_t *)find_io("port", 'C');
	if (!uart0 || !adc || !eeprom || !port_a || !port_c) {
		diag("simavr's atmega2560 lacks a peripheral this runner needs");
		exit(1);
	}

	/* UART0: no console echo, no usleep() on polling; our hook takes the output. */
	uint32_t flags = 0;
	avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
	avr_irq_register_notify(uart0->io.irq + UART_IRQ_OUTPUT, uart_out_hook, NULL);
	avr_cycle_timer_register(avr, FREQUENCY / 11520, uart_feed_timer, NULL);

	/* Relay pins. */
	avr_irq_register_notify(port_a->io.irq + IOPORT_IRQ_REG_PORT, port_reg_hook, NULL);
	avr_irq_register_notify(port_c->io.irq + IOPORT_IRQ_REG_PORT, port_reg_hook, NULL);
	avr_irq_register_notify(port_a->io.irq + IOPORT_IRQ_DIRECTION_ALL, port_ddr_hook, (void *)(intptr_t)'A');
	avr_irq_register_notify(port_c->io.irq + IOPORT_IRQ_DIRECTION_ALL, port_ddr_hook, (void *)(intptr_t)'C');
	sync_port_irqs();

	/* ADC: every conversion start gets its exact sample; ADC8..15 read slots 0..7. */
	memcpy(adc_mux_orig, adc->muxmode, sizeof adc_mux_orig);
	for (int i = 0; i < 64; i++)
		if (adc->muxmode[i].kind == ADC_MUX_SINGLE && adc->muxmode[i].src >= 8 &&
				adc->muxmode[i].src < CHANNELS)
			adc->muxmode[i].src &= 7;
	avr_irq_t *trig = adc->io.irq + ADC_IRQ_OUT_TRIGGER;
	trig->flags &= ~IRQ_FLAG_FILTERED;
	avr_irq_register_notify(trig, adc_trigger_hook, NULL);
	for (int i = 0; i < 8; i++)
		avr_raise_irq(adc->io.irq + ADC_IRQ_ADC0 + i, (uint32_t)lround(opt.zero_mv));

	/* EEPROM. */
	if (opt.eeprom)
		eeprom_load();

	if (opt.vcd) {
		if (avr_vcd_init(avr, opt.vcd, &vcd, 100000) != 0) {
			diag("cannot write %s", opt.vcd);
			exit(1);
		}
		for (int ch = 0; ch < CHANNELS; ch++) {
			avr_ioport_t *port;
			int bit = relay_pin(ch, &port);
			char name[32];
			snprintf(name, sizeof name, "relay%02d_P%c%d", ch, port->name, bit);
			avr_vcd_add_signal(&vcd, port->io.irq + IOPORT_IRQ_PIN0 + bit, 1, strdup(name));
		}
		avr_vcd_start(&vcd);
		vcd_on = 1;
	}
}

static double wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void shutdown_and_exit(int code)
{
	eeprom_check();
	if (vcd_on) {
		avr_vcd_stop(&vcd);
		avr_vcd_close(&vcd);
		vcd_on = 0;
	}
	pty_remove_link();
	exit(code);
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	srandom((unsigned)(now.tv_nsec ^ now.tv_sec ^ ((unsigned)getpid() << 16)));

	/* JSON goes to a private copy of stdout; whatever libsimavr printf()s lands on stderr. */
	fflush(stdout);
	json_fd = dup(1);
	if (json_fd < 0 || dup2(2, 1) < 0) {
		perror("dup");
		return 1;
	}
	fcntl(json_fd, F_SETFD, FD_CLOEXEC);
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	sim_setup();
	pty_setup();
	/* stdin stays blocking (it may be a shared terminal): it is read once per POLLIN only. */

	{
		sbuf_t b = {0};
		sb_printf(&b, "{\"event\":\"ready\",\"path\":");
		sb_json_string(&b, (const uint8_t *)link_path, strlen(link_path));
		sb_printf(&b, ",\"pid\":%d,\"bootId\":\"\"", (int)getpid());
		json_emit(&b);
	}
	diag("ATmega2560 running %s; UART0 on %s -> %s (pid %d); held until a client opens it",
		opt.elf, link_path, pty_name, (int)getpid());

	double start_at = -1;   /* wall ms at which to start the CPU */
	double wall0 = 0;       /* wall ms at sim time 0 (for --realtime) */

	for (;;) {
		if (sig_quit || quit_requested)
			shutdown_and_exit(0);
		while (sig_reset) {
			sig_reset--;
			if (cpu_started)
				cpu_reset();
		}

		if (cpu_started) {
			avr_cycle_count_t end = avr->cycle + CHUNK_CYCLES;
			while (avr->cycle < end) {
				int watchdog = avr->run != normal_run;
				int state = avr_run(avr);
				if (watchdog) {
					after_reset("watchdog");
					continue;
				}
				if (state == cpu_Done || state == cpu_Crashed) {
					const char *why = state == cpu_Done ? "slept with interrupts off" : "crashed";
					diag("the firmware %s at pc=0x%05x (t=%llu us); waiting for its watchdog",
						why, (unsigned)avr->pc, (unsigned long long)sim_us());
					sbuf_t b = {0};
					sb_printf(&b, "{\"event\":\"crash\",\"reason\":\"%s\",\"pc\":%u,\"t_us\":%llu",
						why, (unsigned)avr->pc, (unsigned long long)sim_us());
					json_emit(&b);
					if (!avr->data || !avr->flash) {
						/* simavr tore the core down (not seen with 1.6): nothing left to run. */
						diag("simavr terminated the core; exiting");
						shutdown_and_exit(1);
					}
					/* A crashed chip runs wild until its watchdog bites: model it as a hang. */
					cpu_hang();
				}
			}
			relays_refresh(-1, -1); /* belt and braces: the hooks should have seen it all */
			/* Before any output of this chunk reaches the pty: a reply sent after an EEPROM
			 * write leaves only once the file holds it (a SIGKILL right after still finds it). */
			eeprom_check();
		}

		/* How long may we wait for I/O? */
		int timeout = 0;
		if (!cpu_started) {
			if (start_at >= 0) {
				double left = start_at - wall_ms();
				timeout = left > 0 ? (int)ceil(left) : 0;
			} else {
				timeout = 1000;
			}
		} else if (opt.realtime) {
			double ahead = (double)sim_us() / 1000.0 - (wall_ms() - wall0);
			if (ahead > 1)
				timeout = (int)ahead;
			else if (ahead < -200)
				wall0 = wall_ms() - (double)sim_us() / 1000.0; /* fell behind: don't race to catch up */
		}

		struct pollfd fds[3];
		int nfds = 0;
		fds[nfds++] = (struct pollfd){ ino_fd, POLLIN, 0 };
		int holding = wall_ms() < hold_until;
		if (holding && outq.len) {
			int left = (int)ceil(hold_until - wall_ms());
			if (timeout > left) /* 0 = the CPU runs: no waiting at all */
				timeout = left;
		}
		fds[nfds++] = (struct pollfd){ pty_master, (short)((inq.len < INQ_MAX ? POLLIN : 0) |
			(outq.len && !holding ? POLLOUT : 0)), 0 };
		if (stdin_open)
			fds[nfds++] = (struct pollfd){ 0, POLLIN, 0 };
		int r = poll(fds, nfds, timeout);
		if (r < 0 && errno != EINTR) {
			diag("poll: %s", strerror(errno));
			shutdown_and_exit(1);
		}
		if (r > 0) {
			if (fds[0].revents)
				read_inotify();
			if (fds[1].revents & POLLIN)
				read_master();
			if (stdin_open && nfds > 2 && fds[2].revents)
				read_stdin();
		}
		if (outq.len)
			flush_output();
		if (clients == 0 && outq.len)
			q_drop(&outq, outq.len);

		if (!cpu_started && client_ever) {
			if (start_at < 0)
				start_at = wall_ms() + opt.start_delay_ms;
			if (wall_ms() >= start_at) {
				cpu_started = 1;
				wall0 = wall_ms();
				emit_boot("power");
				relays_refresh(-1, -1);
			}
		}

	}
}
