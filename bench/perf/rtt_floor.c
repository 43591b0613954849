// The round-trip floor of this machine: a blocking 8-byte ping-pong over loopback TCP between two
// processes (TCP_NODELAY, no encryption, no event loop), 3000 round trips, p50 and p10 in us.
// The 8-byte round trip row of bench/perf/compare.ts is compared with it (README, "Measured figures").
//   gcc -O2 -o build-bench/rtt_floor bench/perf/rtt_floor.c && build-bench/rtt_floor
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(){int one=1;int l=socket(AF_INET,SOCK_STREAM,0);struct sockaddr_in a={0};a.sin_family=AF_INET;a.sin_addr.s_addr=htonl(0x7f000001);
bind(l,(void*)&a,sizeof a);listen(l,1);socklen_t n=sizeof a;getsockname(l,(void*)&a,&n);
if(fork()==0){int c=accept(l,0,0);setsockopt(c,IPPROTO_TCP,TCP_NODELAY,&one,4);char b[8];for(;;){ssize_t r=read(c,b,8);if(r<=0)_exit(0);write(c,b,r);}}
int s=socket(AF_INET,SOCK_STREAM,0);setsockopt(s,IPPROTO_TCP,TCP_NODELAY,&one,4);connect(s,(void*)&a,sizeof a);
static double t[3000];char b[8]={0};for(int i=0;i<3000;i++){double t0=now();write(s,b,8);int got=0;while(got<8){ssize_t r=read(s,b+got,8-got);if(r<=0)return 1;got+=r;}t[i]=now()-t0;}
qsort(t,3000,sizeof(double),cmp);printf("C blocking tcp 8-byte rtt p50 us %.1f p10 %.1f\n",t[1500],t[300]);close(s);return 0;}
