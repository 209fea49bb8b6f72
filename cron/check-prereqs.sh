#!/bin/sh
# check-prereqs.sh - what the nightly job needs from the host and Debian 12
# does not always have: a cron daemon that runs, logrotate, and a mail
# transfer agent for cron's failure mail.  Without them the files copied to
# /etc/cron.d and /etc/logrotate.d are accepted and then nothing happens.
# `make install` runs this; it prints a note naming what is missing and
# always exits 0 (a package build host needs none of it).
#
#   sh cron/check-prereqs.sh [SENDMAIL]   (default /usr/sbin/sendmail,
#                                          the path cron mails through)
SENDMAIL=${1:-/usr/sbin/sendmail}
missing=
packages=

lacks() {
	missing="$missing
  $1"
	packages="$packages $2"
}

cron_running() {
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		systemctl is-active --quiet cron
	elif command -v pidof >/dev/null 2>&1; then
		pidof cron >/dev/null
	else
		return 2
	fi
}

if ! command -v cron >/dev/null 2>&1; then
	lacks "cron: not installed, so /etc/cron.d/onestop-etl never runs" cron
else
	cron_running
	case $? in
	0) ;;
	1) lacks "cron: installed but not running; start it: systemctl enable --now cron" "" ;;
	*) lacks "cron: cannot tell whether it runs (no systemctl, no pidof)" "" ;;
	esac
fi
if ! command -v logrotate >/dev/null 2>&1; then
	lacks "logrotate: not installed, so nightly.log grows for ever" logrotate
fi
if [ ! -x "$SENDMAIL" ]; then
	lacks "a mail transfer agent ($SENDMAIL): none, so cron cannot mail a failed night
    (exim4; or msmtp-mta, to relay through another server)" exim4
fi

[ -n "$missing" ] || exit 0
echo
echo "note: the nightly job needs what this host lacks:$missing"
set -- $packages
[ $# -eq 0 ] || echo "  install them: apt-get install $*"
exit 0
