#!/usr/bin/env python3
"""sendfile - send one message file over SMTP for the milter tests.

  sendfile.py PORT FROM RCPT FILE [LOGIN PASSWORD]

Prints "code=NNN text=..." for the end of the transaction: 250 when the
message was accepted, the server's code and text when it was refused (at
RCPT or at the end of DATA), 000 when the connection failed.  Bounded by a
30 s timeout per network call; stdlib smtplib only.
"""
import smtplib
import sys

port, mfrom, rcpt, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
data = open(path, "rb").read()
try:
    s = smtplib.SMTP("127.0.0.1", port, timeout=30,
                     local_hostname="client.example.net")
    if len(sys.argv) > 6:
        s.login(sys.argv[5], sys.argv[6])
    s.sendmail(mfrom, [rcpt], data)
    s.quit()
    print("code=250 text=ok")
except smtplib.SMTPRecipientsRefused as e:
    code, text = list(e.recipients.values())[0]
    print("code=%d text=%s" % (code, text.decode(errors="replace")))
except smtplib.SMTPResponseException as e:
    print("code=%d text=%s" % (e.smtp_code,
                               e.smtp_error.decode(errors="replace")))
except Exception as e:
    print("code=000 text=%s" % e)
