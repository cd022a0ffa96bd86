/*  amqp_door.h - the AMQP 0-9-1 front door of the agent engine
    (docs/decisions/0017, 0018).

    A program that links the door (meshq-agent does; libmeshq does not,
    docs/decisions/0015) registers it before starting an agent; the agent
    then listens where its `amqp` setting says.
*/
#ifndef MESHQ_AMQP_DOOR_H_INCLUDED
#define MESHQ_AMQP_DOOR_H_INCLUDED

//  Registers the AMQP door with the engine.
void meshq_amqp_door_register (void);

#endif
