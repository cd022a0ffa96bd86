# Bunny, Ruby's RabbitMQ client, against a meshq agent: confirms,
# prefetch and manual acks, a fanout to a server-named exclusive queue
# read with Queue#pop (Basic.Get).
#
#     ruby amqp_others.rb PORT
require "bunny"

conn = Bunny.new("amqp://guest:guest@127.0.0.1:#{ARGV[0]}")
conn.start
ch = conn.create_channel
ch.confirm_select
q = ch.queue("bunny", durable: true)
10.times { |i| ch.default_exchange.publish("b#{i}", routing_key: q.name, persistent: true) }
abort "bunny: nacked" unless ch.wait_for_confirms
got = []
ch.prefetch(3)
q.subscribe(manual_ack: true) { |info, _, body| got << body; ch.ack(info.delivery_tag) }
deadline = Time.now + 10
sleep 0.05 while got.size < 10 && Time.now < deadline
puts "bunny consumed #{got.size} in order #{got == (0...10).map { |i| "b#{i}" }}"
fanout = ch.fanout("bunny.fanout")
mine = ch.queue("", exclusive: true).bind(fanout)
fanout.publish("fanned")
body = nil
while body.nil? && Time.now < deadline
  _, _, body = mine.pop
  sleep 0.05 if body.nil?
end
puts "bunny popped #{body}"
q.delete
conn.close
exit(got.size == 10 && body == "fanned" ? 0 : 1)
