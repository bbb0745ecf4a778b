# The text of the help center's pages, in English.
#
# Ids are lowercase with dashes, prefixed by the area of the pages that show
# them; `common-` is text several areas share in the same sense. Pages ask for
# a message with `crate::text::t("id")`, or `crate::text::t_with` when it has
# placeholders. Every id here is used somewhere and every id the pages use is
# here: `cargo test -p ferrodesk-web text::` checks both.

## Shared by several pages

common-knowledge-base = Knowledge base
common-news = News
common-search = Search
common-your-requests = Your requests
common-new-request = New request
common-contact-us = Contact us
common-log-in = Log in
common-back-to-log-in = Back to log in
common-email = Email
common-password = Password
common-current-password = Current password
common-new-password = New password
common-your-name = Your name
common-two-factor-login = Two-factor login
common-save = Save
common-send = Send
common-attach-files = Attach files
common-markdown = (markdown)
common-how-can-we-help = How can we help?
common-someone = someone
common-or = or
common-breadcrumb = Breadcrumb
# The label of a form field that people must leave empty and robots fill in.
common-leave-empty = Leave this empty

## The layout and its navigation (base.html, chrome_nav.html)

nav-skip-to-content = Skip to content
nav-main = Main
nav-powered-by = Powered by Ferrodesk
nav-admin = Admin
nav-agent = Agent
nav-tickets = Tickets
nav-people = People
nav-reports = Reports
nav-chat = Chat
nav-chats = Chats
nav-search = Search tickets
nav-log-out = Log out

## The error page (error.html) and its titles and messages

error-status = Status { $status }
error-request-id = Request id
error-go-home = Go to the help center
error-title-bad-request = Bad Request
error-title-unauthorized = Unauthorized
error-title-forbidden = Forbidden
error-title-not-found = Not Found
error-title-method-not-allowed = Method Not Allowed
error-title-request-timeout = Request Timeout
error-title-conflict = Conflict
error-title-payload-too-large = Payload Too Large
error-title-unsupported-media-type = Unsupported Media Type
error-title-unprocessable-entity = Unprocessable Entity
error-title-too-many-requests = Too Many Requests
error-title-internal-server-error = Internal Server Error
error-title-service-unavailable = Service Unavailable
error-title-other = Error
error-bad-request = The request could not be understood.
error-sign-in-first = Please sign in first.
error-forbidden = You do not have permission to see this page.
error-not-found = There is no page at this address.
error-method-not-allowed = This address does not accept that kind of request.
error-request-timeout = The request took too long.
error-payload-too-large = What you sent is too large.
error-unsupported-media-type = This address does not accept that kind of content.
error-unprocessable = The request could not be processed.
error-too-many-requests = Too many requests. Wait a moment and try again.
error-service-unavailable = The service is not available right now. Try again shortly.
error-server = Something went wrong on our side. It has been logged.
error-other = The request could not be completed.
error-csrf = This form has expired or came from another site. Go back, reload the page and try again.
error-invalid-input = The input is not valid.
error-not-permitted = You do not have permission to do this.
error-ip-not-confirmed = This address is not confirmed for your account yet; see the link we emailed you.
error-login-expired = That login has expired. Log in again.

## Logging in (login.html, login_two_factor.html)

sign-in-staff-heading = Staff log in
sign-in-remember-me = Remember me on this device
sign-in-forgot-password = Forgot your password?
sign-in-no-account = No account yet?
sign-in-notice-logged-out = You have been logged out.
sign-in-notice-password-set = Your password has been set. Log in with it now.
sign-in-notice-setup-done = Your admin account is ready. Log in to continue.
sign-in-notice-expired = Your session has ended. Log in again.
sign-in-notice-fresh-login = The admin interface needs a login without “remember me”. Log in again to continue.
sign-in-notice-password-changed = Your password has been changed.
sign-in-notice-code-expired = That login took too long or had too many wrong codes. Log in again.
sign-in-notice-confirmation-sent = If an account at that address waits for confirmation, a new link is on its way. Links from earlier mails no longer work.
sign-in-address-unconfirmed = Confirm your address first: open the link we mailed you.
confirm-first-title = Confirm your address first
confirm-first-text = Your password is right, but { $email } is not confirmed yet. Open the link in the mail we sent when you registered.
confirm-first-no-mail = No mail, or the link expired?
confirm-first-send-again = Send the link again
sign-in-notice-ip-trusted = Your address is confirmed. Log in again to continue.
sign-in-notice-unlocked = Signing in from this address works again.
sign-in-invalid-credentials = Invalid email or password.
sign-in-too-many-attempts = Too many login attempts from your address. Wait a while and try again.
sign-in-ip-not-trusted = Logins to this account need a confirmed address, and this one is new. We have emailed you a link: open it, then log in again.
sign-in-locked = Too many failed sign-ins from here: signing in from this address is paused for a while. If it is your account, the link we mailed you lifts the pause; signing in from elsewhere still works.
sign-in-two-factor-heading = Enter your code
sign-in-two-factor-intro = Open your authenticator app and type the six-digit code it shows for this account. Lost your device? Type one of your recovery codes instead.
sign-in-two-factor-code = Code
sign-in-two-factor-continue = Continue
sign-in-two-factor-start-again = Start again
sign-in-wrong-code = That code is not right.

## Forgetting and choosing a password (forgot_password.html, new_password.html)

sign-in-forgot-password-intro = Enter the email address of your account and we will send you a link to choose a new password.
sign-in-forgot-password-send = Send me a link
sign-in-forgot-password-sent = If an account uses that address, we have sent it a link to choose a new password. The link works once, for { $minutes } minutes.
sign-in-forgot-password-no-mail = No mail after a few minutes? Check your spam folder, or ask an administrator.
sign-in-new-password-hint = At least { $characters } characters. A few unrelated words make a strong password.
sign-in-new-password-repeat = Repeat the password
sign-in-reset-heading = Choose a new password
sign-in-reset-intro = Your old password stops working as soon as you save the new one, and you are logged out everywhere.
sign-in-reset-submit = Save the new password
sign-in-invitation-heading = Welcome! Choose your password
sign-in-invitation-intro = You have been invited to join the team. Choose the password you will log in with.
sign-in-invitation-submit = Save my password

## Opening an account (register.html, verify_email.html)

register-title = Create an account
register-closed = Accounts are opened by the support team.
register-closed-ask = or ask the team for an account.
register-ready = Your account is ready:
register-ready-log-in = log in
register-ready-how = with your address and password.
register-check-mail = Nearly there: we sent a link to { $email }. Open it to confirm the address.
register-check-mail-approval = Nearly there: we sent a link to { $email }. Open it to confirm the address; then the support team lets you in.
register-had-account = If the address already had an account, we sent it a mail instead.
register-needs-approval = The support team approves new accounts.
register-email-address = Email address
register-password-again = Password again
register-submit = Create the account
register-have-account = Have an account?
register-confirm-title = Confirm your address
register-confirmed = Your address is confirmed.
register-confirmed-awaiting-approval = The support team lets you in soon; you can log in once they have.
register-confirm-submit = Confirm my address
register-link-dead = This link does not work any more: it was used already or is older than a day.
register-again = Register again
register-choose-new-password = choose a new password

## One's own account (account.html, account_password.html, account_two_factor.html)

account-title = Your account
account-change-password = Change your password
account-two-factor-is = Two-factor login is
account-two-factor-on = on
account-two-factor-off = off
account-manage-two-factor = Manage two-factor login
account-login-mails = Login mails
account-mail-on-success = Mail me whenever someone logs in to my account
account-mail-on-failure = Mail me when a login to my account fails
account-sessions = Where you are logged in
account-sessions-where = Where
account-sessions-started = Started
account-sessions-last-seen = Last seen
account-sessions-ip = IP
account-sessions-browser = Browser
account-surface-portal = portal
account-surface-staff = staff
account-this-browser = this browser
account-session-end = End
account-end-other-sessions = Log out everywhere else
account-notice-password-changed = Your password is changed. Your other sessions have ended.
account-notice-notifications-saved = Your login mail choices are saved.
account-notice-work-mail-saved = Your work mail choices are saved.
account-notice-signature-saved = Your signature is saved.
account-signature = Signature
account-signature-help = Added below every reply you write here (never to notes). Markdown; these are filled in:
account-signature-own = Your signature (leave it empty to use the default)
account-time-zone = Time zone
account-time-zone-help = Every time the helpdesk shows you is in this zone.
account-time-zone-default = You have not chosen one: times are shown in the helpdesk's default zone until you do.
account-notice-time-zone-saved = Your time zone is saved.
account-signature-default = The default, used while yours is empty:
account-work-mail = Work mail
account-work-mail-new-ticket = Mail me new tickets in departments I fully handle
account-work-mail-assigned = Mail me when a ticket is assigned to me or my team
account-work-mail-user-reply = Mail me customers' replies on tickets I am assigned to or follow
account-work-mail-mention = Mail me when a colleague names me in a note (@name)
account-notice-session-ended = That session has ended.
account-notice-others-ended = You are logged out everywhere else.
account-notice-name-saved = Your name is saved.
account-must-change = Your password has expired or an admin asked for a new one. Choose a new password to continue.
account-new-password-again = New password again
account-change-password-submit = Change the password
account-back = Back to your account
account-recovery-codes = Your recovery codes
account-recovery-codes-intro = Each code lets you log in once without your authenticator app. Print them or keep them in a password manager.
account-two-factor-required = Your admin requires two-factor login for every agent.
account-two-factor-required-by = Your admin requires two-factor login for every agent; set it up by { $deadline }.
account-two-factor-on-since = On since { $since }
account-recovery-codes-left =
    { $count ->
        [one] { $count } unused recovery code left.
       *[other] { $count } unused recovery codes left.
    }
account-new-recovery-codes = Make new recovery codes
account-two-factor-turn-off = Turn two-factor login off
account-two-factor-scan = Scan this code
account-two-factor-scan-intro = Scan it with an authenticator app (such as FreeOTP, Aegis, Google Authenticator or 1Password), or type the key by hand.
account-two-factor-key = Key:
account-two-factor-code = The six-digit code your app shows
account-two-factor-turn-on = Turn on
account-two-factor-new-key = Start again with a new key
account-two-factor-off-heading = Off
account-two-factor-pitch = With two-factor login, a stolen password is not enough: logging in also takes a code from an app on your phone.
account-two-factor-set-up = Set up two-factor login
account-notice-two-factor-off = Two-factor login is off.
account-notice-two-factor-needed = Set up two-factor login to continue.
account-notice-two-factor-on = Two-factor login is on. Keep these recovery codes somewhere safe: each works once, and they are not shown again.
account-notice-new-recovery-codes = New recovery codes are ready; the old ones no longer work. They are not shown again.

## The help center's home (portal_home.html)

home-title = Help center
home-browse = Browse answers in the
home-browse-link = knowledge base
home-browse-or-contact = or contact the support team.
home-search-placeholder = Search for answers
home-welcome-back = Welcome back, { $name }
home-follow-requests = to follow your requests
home-create-account = create an account
home-article-count = { $count ->
    [one] 1 article
   *[other] { $count } articles
}
home-popular-articles = Popular articles
home-recent-articles = Recently updated
home-latest-news = Latest news
home-all-news = All news
home-contact-us = Contact us
home-contact-text = Did not find an answer? Send us a request and the support team will write back.

## The knowledge base (kb_home.html, kb_category.html, kb_article.html)

kb-categories = Categories
kb-no-categories = Nothing here yet.
kb-popular = Popular
kb-no-articles = No articles yet.
kb-no-articles-in-category = No articles here yet.
kb-article-by = By
kb-article-updated = updated { $time }
kb-article-views =
    { $count ->
        [one] read { $count } time
       *[other] read { $count } times
    }
kb-helpful = Was this helpful?
kb-helpful-yes = Yes
kb-helpful-no = No
kb-related = Related
kb-comments = Comments
kb-no-comments = No comments yet.
kb-your-comment = Your comment
kb-log-in-to-comment = to comment.
kb-notice-voted = Thank you for your feedback.
kb-notice-commented = Thank you: your comment appears once the team has read it.

## News (news_list.html, news_post.html, the Atom feed)

news-feed-link = Follow the news in a feed reader
news-feed-title = { $product } news
news-categories = News categories
news-all = All
news-none = No news yet.
news-older = Older news
news-no-such-category = No such news category.

## Search (search.html)

search-label = Search the knowledge base and news
search-where = Where
search-everywhere = Everywhere
search-kind-article = article
search-kind-news = news
search-showing-corrected = Showing results for “{ $corrected }”; nothing matched “{ $typed }”.
search-no-results = Nothing matches. Try other words, or
search-ask-us = ask us
search-unreadable-subject = Unreadable subject.

## Requests (portal_tickets.html, portal_new_ticket.html, portal_ticket.html, portal_ticket_sent.html, ticket_field_input.html)

ticket-list-organization = Your organization's requests
ticket-list-whose = Whose requests
ticket-list-mine = Mine
ticket-column-request = Request
ticket-column-status = Status
ticket-column-from = From
ticket-column-updated = Updated
ticket-list-which = Which requests
ticket-list-state-open = Open
ticket-list-state-closed = Closed
ticket-list-state-all = All
ticket-list-search = Search your requests
ticket-list-no-match = No request matches.
ticket-list-empty = No requests yet.
ticket-list-older = Older requests
ticket-no-departments = The help center takes no requests at the moment.
ticket-guest-email = Your email address
ticket-guest-follow = We mail you a link to follow your request.
ticket-guest-log-in-instead = instead to attach files and see all your requests.
ticket-department = About
ticket-subject = Subject
ticket-suggestions = These articles may answer your question:
ticket-attachments-not-sent = Nothing was sent: pick the files you want to attach again, then send.
ticket-field-required = (required)
ticket-sent-title = Request received
ticket-sent-heading = Thank you
ticket-sent-text = We have your request. Look in your mailbox for a link to follow it and add to it; if nothing arrives within a few minutes, check the address you gave and your spam folder.
ticket-opened = opened { $time } by { $requester }
ticket-opened-handled = opened { $time } by { $requester }, handled by { $agent }
ticket-messages = Messages
ticket-reply = Add a message
ticket-reply-reopens = Write to reopen the request
ticket-reopen = Reopen this request
ticket-resolve = My question is answered: close the request
ticket-notice-created = Your request is sent. We will answer here and by mail.
ticket-notice-sent = Your message is sent.
ticket-notice-resolved = The request is closed. Write again any time to reopen it.
ticket-notice-reopened = The request is open again.
ticket-status-awaiting-agent = Awaiting agent
ticket-status-awaiting-user = Awaiting user
ticket-status-pending = Pending
ticket-status-resolved = Resolved
ticket-status-archived = Archived
ticket-status-spam = Spam
ticket-status-deleted = Deleted

chat-title = Chat
chat-not-offered = Chat is not offered right now.
chat-send-request-instead = Send us a request
chat-answer-by-mail = and we will answer by mail.
chat-nobody-free = Nobody is free to chat right now. Start anyway and we will answer here if someone comes, or by mail.
chat-needs-script = Chat needs JavaScript.
chat-your-name = Your name
chat-your-email = Your email
chat-your-email-optional = Your email (optional; without it we can only answer here)
chat-department = Department
chat-first-message = How can we help?
chat-start = Start chat
chat-message = Message
chat-message-placeholder = Write a message
chat-messages = Messages
chat-send = Send
chat-leave-request = Leave it as a request; answer me by mail
chat-end = End chat
chat-waiting = Waiting for an agent…
chat-agent-here = { $agent } is here.
chat-an-agent = An agent
chat-ended = The chat has ended. A copy is kept with your requests.
chat-reconnecting = Connection lost; reconnecting…
chat-typing = { $name } is typing…
chat-add-to-request = Add this chat to one of your open requests
chat-new-request = No, keep it as a new request
chat-send-file = Send a file
chat-transcript-by-mail = Email me the transcript
chat-file-sending = Sending { $name }…
chat-file-failed = The file could not be sent: { $reason }
chat-transferred = You are being passed to a colleague; please wait a moment.
