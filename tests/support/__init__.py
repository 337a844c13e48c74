"""What the tests and `make bench` share; no tests here. One module each:

author_history   a large author chat history (the scale test and make bench)
clock            the movable business clock given to `Services`
cms              the recording of the real Integreat CMS (tests/fixtures/cms) served again
emf              CloudWatch's Embedded Metric Format checked as AWS specifies it
files            a valid PNG and PDF made here, and the app's side of an upload
memory/          every table's in-memory twin, assembled as memory_services (never deployed)
offline          the network switched off (loopback allowed on request)
regions          a region for a test: its fields (chat_region), PUT to the running app (put_region)
servers          real servers on loopback: free ports, DynamoDB Local, hostile hosts, the worker
signing          Zammad's webhook signature and a signed webhook delivery in process
waiting          for race tests: wait until a condition holds, run the other side in a thread
zammad_operator  a region's Zammad as an operator meets it (zammad-setup and doctor)
"""
